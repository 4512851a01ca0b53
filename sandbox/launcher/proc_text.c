/*
 * The text of the /proc and cgroup files the supervisor reads, parsed: pure
 * functions of a NUL-terminated string, no I/O, so that each can be fuzzed
 * on its own (Tests/Fuzz/c/fuzz_census.c). The files are the kernel's, but
 * a run chooses much of what is in them (its command name, how many
 * processes it has), and a short read cuts them anywhere: nothing here
 * reads past the string's end, whatever it holds.
 */
#include "launcher.h"

#include <stdlib.h>
#include <string.h>

bool parse_stat_cpu_ticks(const char *text, uint64_t *ticks)
{
    const char *cursor = strrchr(text, ')'); /* the command name may hold spaces and parentheses */
    if (cursor == NULL)
        return false;
    cursor++;
    /* After the name: state (field 3) ... utime is field 14. The cursor is
     * on the space before each field, or on the NUL of a text cut after the
     * name: the search must not start past it. */
    for (int field = 3; field < 14; field++) {
        if (*cursor == '\0')
            return false;
        cursor = strchr(cursor + 1, ' ');
        if (cursor == NULL)
            return false;
    }
    uint64_t total = 0;
    for (int field = 14; field <= 17; field++) {
        char *end = NULL;
        long long value = strtoll(cursor, &end, 10);
        if (end == cursor)
            return false;
        total += value > 0 ? (uint64_t)value : 0;
        cursor = end;
    }
    *ticks = total;
    return true;
}

uint64_t parse_kb_field(const char *text, const char *key)
{
    const char *line = strstr(text, key);
    return line != NULL ? strtoull(line + strlen(key), NULL, 10) * 1024 : 0;
}

uint64_t parse_process_memory(const char *text, bool proportional, uint64_t *peak_resident)
{
    if (proportional)
        return parse_kb_field(text, "\nPss_Anon:") + parse_kb_field(text, "\nPss_Shmem:");
    *peak_resident = parse_kb_field(text, "\nVmHWM:");
    return parse_kb_field(text, "\nRssAnon:") + parse_kb_field(text, "\nRssShmem:");
}

uint64_t parse_keyed_number(const char *text, const char *key)
{
    size_t key_length = strlen(key);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, key, key_length) == 0 && line[key_length] == ' ')
            return strtoull(line + key_length + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return 0;
}

pid_t parse_fdinfo_pid(const char *text)
{
    const char *line = strstr(text, "Pid:");
    return line != NULL ? (pid_t)strtol(line + 4, NULL, 10) : -1;
}
