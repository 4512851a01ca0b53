/*
 * The text of the /proc and cgroup files the supervisor reads, parsed: pure
 * functions of a NUL-terminated string, no I/O, so that each can be fuzzed
 * on its own (Tests/Fuzz/c/fuzz_census.c). The files are the kernel's, but
 * a run chooses much of what is in them (its command name, how many
 * processes it has), and a short read cuts them anywhere: nothing here
 * reads past the string's end, whatever it holds, and no number wraps: a
 * memory or CPU figure that wrapped would read as small, under its limit.
 */
#include "launcher.h"

#include <stdlib.h>
#include <string.h>

/* The unsigned decimal number at `text` (after blanks), or 0 without one:
 * strtoull would take "-10" as 2^64-10. Past UINT64_MAX, UINT64_MAX. */
static uint64_t unsigned_number(const char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    return *text >= '0' && *text <= '9' ? strtoull(text, NULL, 10) : 0;
}

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
        total = add_saturating(total, value > 0 ? (uint64_t)value : 0);
        cursor = end;
    }
    *ticks = total;
    return true;
}

uint64_t parse_kb_field(const char *text, const char *key)
{
    const char *line = strstr(text, key);
    uint64_t kilobytes = line != NULL ? unsigned_number(line + strlen(key)) : 0;
    return kilobytes <= UINT64_MAX / 1024 ? kilobytes * 1024 : UINT64_MAX; /* towards the limit, never wrapped below it */
}

uint64_t parse_process_memory(const char *text, bool proportional, uint64_t *peak_resident)
{
    if (proportional)
        return add_saturating(parse_kb_field(text, "\nPss_Anon:"), parse_kb_field(text, "\nPss_Shmem:"));
    *peak_resident = parse_kb_field(text, "\nVmHWM:");
    return add_saturating(parse_kb_field(text, "\nRssAnon:"), parse_kb_field(text, "\nRssShmem:"));
}

uint64_t parse_keyed_number(const char *text, const char *key)
{
    size_t key_length = strlen(key);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, key, key_length) == 0 && line[key_length] == ' ')
            return unsigned_number(line + key_length + 1);
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
