/*
 * syntax: the value syntax the config file and the flags share (integers,
 * durations, sizes, addresses, the HTTP/1.1 front end's name), so that both
 * read a value the same way. Private to gateway/config/.
 */
#ifndef AG_CONFIG_SYNTAX_H
#define AG_CONFIG_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Plain decimal only: "0x10", "+1", "1e3" and "-1" are mistakes in a config. */
bool syntax_parse_u64(const char *s, size_t n, uint64_t *out);
/* Bytes, or a number with KiB/MiB/GiB, k/m/g (x1024) or KB/MB/GB (x1000). */
bool syntax_parse_size(const char *s, uint64_t *out);
/* Milliseconds, or a number with ms, s, m or h. */
bool syntax_parse_duration(const char *s, uint64_t *out);
/* Letters, digits, '-', '.', '_': what a host name (and a method name) is made of. */
bool syntax_host_char_ok(char ch);
/* HOST:PORT, [V6]:PORT, and for listeners *:PORT / :PORT. NULL on success
 * (*host heap-allocated, without brackets), else why not. */
const char *syntax_parse_hostport(const char *s, bool listener, char **host, uint16_t *port);
/* "uring" | "h2o"; -1 for anything else. */
int syntax_parse_http1(const char *v, config_http1_t *out);

#endif
