/*
 * swagger_ui.c: a fixed table of files, read at start, served from memory.
 *
 * The list is what swagger-ui-dist's index.html loads (5.x), its icons, the
 * OAuth2 redirect page and the licence; the package's source maps and its
 * other builds (for bundlers) stay on disk. /q/swagger-ui redirects to
 * /q/swagger-ui/ because the page's own references are relative.
 */
#include "server/swagger_ui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "http/response.h"
#include "server/worker.h"

#define PREFIX "/q/swagger-ui"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

static const struct {
    const char *name;
    const char *type;
    int required;
} known[] = {
    {"index.html", "text/html; charset=utf-8", 1},
    {"swagger-ui.css", "text/css; charset=utf-8", 1},
    {"swagger-ui-bundle.js", "text/javascript; charset=utf-8", 1},
    {"swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8", 1},
    {"index.css", "text/css; charset=utf-8", 0},
    {"favicon-16x16.png", "image/png", 0},
    {"favicon-32x32.png", "image/png", 0},
    {"oauth2-redirect.html", "text/html; charset=utf-8", 0},
    {"oauth2-redirect.js", "text/javascript; charset=utf-8", 0},
    {"LICENSE", "text/plain; charset=utf-8", 0},
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

/* The UI's configuration: the document next door (relative, so a proxy
 * that mounts the gateway under a prefix keeps working), no call to the
 * public validator.swagger.io (a badge the page would fetch from outside). */
static const char initializer[] =
    "window.onload = function () {\n"
    "  window.ui = SwaggerUIBundle({\n"
    "    url: \"../openapi?format=json\",\n"
    "    dom_id: \"#swagger-ui\",\n"
    "    deepLinking: true,\n"
    "    validatorUrl: null,\n"
    "    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],\n"
    "    plugins: [SwaggerUIBundle.plugins.DownloadUrl],\n"
    "    layout: \"StandaloneLayout\"\n"
    "  });\n"
    "};\n";

typedef struct ui_file {
    const char *name;
    const char *type;
    char *data;         /* NULL for the initializer, which is static */
    const char *body;
    size_t len;
    char etag[24];
} ui_file_t;

struct swagger_ui {
    ui_file_t files[NKNOWN + 1];
    size_t nfiles;
    size_t bytes;
};

static void set_etag(ui_file_t *f)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < f->len; i++)
        h = (h ^ (uint8_t)f->body[i]) * 1099511628211ull;
    snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)h);
}

/* 1 read, 0 absent, -1 error (err set). */
static int read_file(const char *dir, const char *name, ui_file_t *f, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        snprintf(err, errlen, "swagger_ui_dir %s: path too long", dir);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "swagger_ui_dir: %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (unsigned long long)st.st_size > SWAGGER_UI_MAX_FILE) {
        snprintf(err, errlen, "swagger_ui_dir: %s: not a regular file of at most %u bytes", path,
                 SWAGGER_UI_MAX_FILE);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *data = malloc(len ? len : 1);
    while (data && got < len) {
        ssize_t n = read(fd, data + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (data == NULL || got != len) {
        snprintf(err, errlen, "swagger_ui_dir: %s: %s", path, data ? "short read" : "out of memory");
        free(data);
        return -1;
    }
    f->data = data;
    f->body = data;
    f->len = len;
    return 1;
}

swagger_ui_t *swagger_ui_load(const char *dir, char *err, size_t errlen)
{
    swagger_ui_t *ui = calloc(1, sizeof(*ui));
    if (ui == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < NKNOWN; i++) {
        ui_file_t *f = &ui->files[ui->nfiles];
        int rc = read_file(dir, known[i].name, f, err, errlen);
        if (rc < 0 || (rc == 0 && known[i].required)) {
            if (rc == 0)
                snprintf(err, errlen,
                         "swagger_ui_dir %s: no %s (install swagger-ui-dist there: scripts/install-swagger-ui %s)",
                         dir, known[i].name, dir);
            swagger_ui_free(ui);
            return NULL;
        }
        if (rc == 0)
            continue;
        f->name = known[i].name;
        f->type = known[i].type;
        set_etag(f);
        ui->bytes += f->len;
        ui->nfiles++;
    }
    ui_file_t *init = &ui->files[ui->nfiles++];
    *init = (ui_file_t){.name = "swagger-initializer.js", .type = "text/javascript; charset=utf-8",
                        .body = initializer, .len = sizeof(initializer) - 1};
    set_etag(init);
    return ui;
}

void swagger_ui_free(swagger_ui_t *ui)
{
    if (ui == NULL)
        return;
    for (size_t i = 0; i < ui->nfiles; i++)
        free(ui->files[i].data);
    free(ui);
}

size_t swagger_ui_bytes(const swagger_ui_t *ui) { return ui ? ui->bytes : 0; }

static void send_file(h2o_req_t *req, const ui_file_t *f)
{
    static h2o_generator_t none = {NULL, NULL};
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, f->etag, strlen(f->etag));
    /* revalidate each time (a new install changes the files under the same
     * names), and a 304 costs nothing */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    int fresh = inm >= 0 && memmem(req->headers.entries[inm].value.base, req->headers.entries[inm].value.len,
                                   f->etag, strlen(f->etag)) != NULL;
    req->res.status = fresh ? 304 : 200;
    req->res.reason = fresh ? "Not Modified" : "OK";
    if (!fresh)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, f->type, strlen(f->type));
    size_t len = fresh ? 0 : f->len;
    req->res.content_length = len;
    h2o_start_response(req, &none);
    /* the body is the server's for as long as the workers run: no copy;
     * HEAD gets the length alone */
    h2o_iovec_t iov = h2o_iovec_init(f->body, len);
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_send(req, &iov, head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

int swagger_ui_handle(h2o_req_t *req)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *p = req->path.base;
    if (len < PREFIX_LEN || memcmp(p, PREFIX, PREFIX_LEN) != 0 || (len > PREFIX_LEN && p[PREFIX_LEN] != '/'))
        return 0;
    const shared_t *sh = worker_of(req->conn->ctx)->shared;
    const swagger_ui_t *ui = sh->swagger_ui;
    if (ui == NULL) {
        static const char how[] = "Swagger UI is not enabled: install its files with scripts/install-swagger-ui "
                                  "DIR, then start the gateway with --swagger-ui-dir DIR (config: swagger_ui_dir)";
        response_error(req, 404, GRPC_NOT_FOUND, how, sizeof(how) - 1, NULL, 0, sh->error_field);
        return 1;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        response_error(req, 405, GRPC_UNIMPLEMENTED, H2O_STRLIT("Swagger UI answers GET"), NULL, 0,
                       sh->error_field);
        return 1;
    }
    if (len == PREFIX_LEN) {
        /* the page's references are relative: it must be read from the folder */
        size_t qlen = req->path.len - len;
        char *loc = h2o_mem_alloc_pool(&req->pool, PREFIX_LEN + 1 + qlen);
        memcpy(loc, PREFIX "/", PREFIX_LEN + 1);
        memcpy(loc + PREFIX_LEN + 1, p + len, qlen);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, loc, PREFIX_LEN + 1 + qlen);
        req->res.status = 302;
        req->res.reason = "Found";
        req->res.content_length = 0;
        h2o_send_inline(req, "", 0);
        return 1;
    }
    const char *name = p + PREFIX_LEN + 1;
    size_t nlen = len - PREFIX_LEN - 1;
    if (nlen == 0) {
        name = "index.html";
        nlen = 10;
    }
    for (size_t i = 0; i < ui->nfiles; i++) {
        const ui_file_t *f = &ui->files[i];
        if (strlen(f->name) == nlen && memcmp(f->name, name, nlen) == 0) {
            send_file(req, f);
            return 1;
        }
    }
    char msg[200];
    int n = snprintf(msg, sizeof(msg), "Swagger UI has no file \"%.*s\"", (int)(nlen > 100 ? 100 : nlen), name);
    response_error(req, 404, GRPC_NOT_FOUND, msg, (size_t)n, NULL, 0, sh->error_field);
    return 1;
}
