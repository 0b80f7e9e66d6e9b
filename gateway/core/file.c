/* file.c: reads by doubling, so a file of any size costs O(log n) reallocs. */
#include "core/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

char *file_read_path(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = file_read_all(f, len);
    fclose(f);
    if (data == NULL)
        snprintf(err, errlen, "%s: read error or out of memory", path);
    return data;
}
