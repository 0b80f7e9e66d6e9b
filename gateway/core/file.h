/* file: a whole stream into one malloc'd buffer (descriptor sets, stdin). */
#ifndef AG_FILE_H
#define AG_FILE_H

#include <stddef.h>
#include <stdio.h>

/* NULL on a read error or out of memory; the caller frees. */
char *file_read_all(FILE *f, size_t *len);
/* The file at path, the same way; NULL with "PATH: why" in err. */
char *file_read_path(const char *path, size_t *len, char *err, size_t errlen);

#endif
