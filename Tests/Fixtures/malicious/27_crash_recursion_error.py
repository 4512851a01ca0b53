# expect: error
# Recurses without end at the default recursion limit.
# require: RecursionError


def descend(depth):
    return descend(depth + 1) + 1


print("recursing", flush=True)
descend(0)
