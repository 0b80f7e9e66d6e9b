/*
 * http1_storm: malformed HTTP/1.1 against a live front end. Each of N
 * connections sends one input made from a well-formed seed (a GET, a POST
 * with Content-Length, a chunked POST, a pipelined pair, an Expect, an
 * upgrade attempt) by a few random mutations (bytes flipped, inserted or
 * cut, a header line repeated, a number blown up), written in random
 * pieces; then it reads what comes back until the server closes or a short
 * timeout passes. Deterministic for a given seed. It prints one line:
 *
 *   connections N answered A statuses 2xx X 4xx Y 5xx Z other W bad_status_lines B
 *
 * where B counts answers whose first bytes are not "HTTP/1.x NNN " (output
 * that no client could read). http1_uring_test checks B == 0, and that the
 * gateway still serves and holds no more connections afterwards.
 *
 *   http1_storm PORT CONNECTIONS SEED
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *const seeds[] = {
    "GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\nX-Request-Id: storm\r\n\r\n",
    "POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 92\r\n\r\n"
    "{\"userId\":\"bob\",\"fromAddress\":\"0xa1\",\"toAddress\":\"0xb2\",\"amount\":\"3.50\",\"transactionType\":\"TRANSFER\"}",
    "POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    "a;ext=1\r\n{\"userId\":\r\n5\r\n\"bob\"\r\n1\r\n}\r\n0\r\nTrailer: t\r\n\r\n",
    "GET /api/v11/consensus/status HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\n"
    "Connection: close\r\n\r\n",
    "POST /api/v11/crypto/sign HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
    "Content-Length: 2\r\n\r\n{}",
    "GET /api/v11/transactions/0x%41%2Fbc?limit=1&x=%zz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET /q/health/ready HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
};

static uint64_t rng;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* A mutated copy of a seed in buf (cap bytes); returns its length. */
static size_t mutate(char *buf, size_t cap)
{
    const char *s = seeds[next() % (sizeof(seeds) / sizeof(seeds[0]))];
    size_t len = strlen(s);
    memcpy(buf, s, len);
    static const char *const numbers[] = {"99999999999999999999", "-1", "0x10", "18446744073709551616", " 5", "4294967296"};
    int rounds = 1 + (int)(next() % 4);
    for (int r = 0; r < rounds && len > 0; r++) {
        size_t at = next() % len;
        switch (next() % 7) {
        case 0: /* flip a byte */
            buf[at] = (char)(next() & 0xff);
            break;
        case 1: /* insert a byte, often one with meaning to HTTP */
            if (len + 1 < cap) {
                static const char special[] = "\r\n:; \t\0%?/";
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (next() & 1) ? special[next() % (sizeof(special) - 1)] : (char)(next() & 0xff);
                len++;
            }
            break;
        case 2: /* cut the tail */
            len = at;
            break;
        case 3: /* cut a piece out */
        {
            size_t n = next() % (len - at + 1);
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 4: /* repeat a piece (a header line, a chunk) */
        {
            size_t n = 1 + next() % 64;
            if (at + n > len)
                n = len - at;
            if (len + n < cap) {
                memmove(buf + at + n, buf + at, len - at);
                len += n;
            }
            break;
        }
        case 5: /* a number blown up where a digit was */
        {
            char *d = memchr(buf + at, ':', len - at);
            const char *num = numbers[next() % (sizeof(numbers) / sizeof(numbers[0]))];
            size_t n = strlen(num);
            if (d != NULL && len + n < cap) {
                d++;
                memmove(d + n, d, (size_t)(buf + len - d));
                memcpy(d, num, n);
                len += n;
            }
            break;
        }
        default: /* a long run of one byte (a huge header, a long path) */
        {
            size_t n = 1 + next() % 9000;
            if (len + n < cap) {
                memmove(buf + at + n, buf + at, len - at);
                memset(buf + at, (next() & 1) ? 'a' : '/', n);
                len += n;
            }
            break;
        }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: http1_storm PORT CONNECTIONS SEED\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long total = atol(argv[2]);
    rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)strtoull(argv[3], NULL, 10);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static char buf[65536], in[65536];
    long answered = 0, bad = 0, cls[6] = {0};
    for (long i = 0; i < total; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            perror("http1_storm: connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct timeval tv = {0, 50000}; /* a short wait: most inputs leave the request unfinished */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        size_t len = mutate(buf, sizeof(buf)), off = 0;
        while (off < len) {
            size_t n = 1 + next() % (len - off);
            ssize_t w = send(fd, buf + off, n, MSG_NOSIGNAL);
            if (w <= 0)
                break; /* the server closed on what it had: fine */
            off += (size_t)w;
        }
        size_t got = 0;
        for (;;) {
            ssize_t r = recv(fd, in + got, sizeof(in) - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
            if (got == sizeof(in) - 1)
                break;
        }
        if (next() % 4 == 0) { /* some leave with a reset instead of a FIN */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
        if (got == 0)
            continue;
        answered++;
        in[got] = '\0';
        if (got < 13 || memcmp(in, "HTTP/1.", 7) != 0 || (in[7] != '0' && in[7] != '1') || in[8] != ' ' ||
            in[9] < '1' || in[9] > '5' || in[12] != ' ') {
            bad++;
            if (bad <= 3)
                fprintf(stderr, "http1_storm: unreadable answer: %.60s\n", in);
            continue;
        }
        cls[in[9] - '0']++;
    }
    printf("connections %ld answered %ld statuses 2xx %ld 4xx %ld 5xx %ld other %ld bad_status_lines %ld\n", total,
           answered, cls[2], cls[4], cls[5], cls[1] + cls[3], bad);
    return 0;
}
