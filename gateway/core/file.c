/* file.c: reads by doubling, so a file of any size costs O(log n) reallocs. */
#include "core/file.h"

#include <stdlib.h>

char *file_read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap);
    while (data != NULL) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(data, cap * 2);
        if (bigger == NULL)
            free(data);
        data = bigger;
        cap *= 2;
    }
    if (data != NULL && ferror(f)) {
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}
