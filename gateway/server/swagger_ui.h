/*
 * swagger_ui: GET /q/swagger-ui, the swagger-ui-dist npm package's page
 * pointed at /q/openapi, from a directory the operator installs
 * (scripts/install-swagger-ui DIR; config swagger_ui_dir, flag
 * --swagger-ui-dir). Without one, /q/swagger-ui answers 404 saying how to
 * enable it.
 *
 * The files the page loads (a fixed list) are read once at start, each at
 * most SWAGGER_UI_MAX_FILE bytes, and served from memory: a request names
 * one of them or gets a 404, so no path reaches the file system (nothing to
 * traverse, no disk read on a worker's loop, no half-replaced file served).
 * swagger-initializer.js is the gateway's own, pointing the UI at
 * /q/openapi.
 */
#ifndef AG_SWAGGER_UI_H
#define AG_SWAGGER_UI_H

#include <stddef.h>
#include <h2o.h>

#define SWAGGER_UI_MAX_FILE (8u << 20)

typedef struct swagger_ui swagger_ui_t;

/* NULL with a reason in err (a required file missing, one too large). */
swagger_ui_t *swagger_ui_load(const char *dir, char *err, size_t errlen);
void swagger_ui_free(swagger_ui_t *ui);
/* Bytes held, for the start-up line. */
size_t swagger_ui_bytes(const swagger_ui_t *ui);

/* 1 when req was under /q/swagger-ui and has been answered (shared_t's
 * swagger_ui, or the 404 that says how to enable it). */
int swagger_ui_handle(h2o_req_t *req);

#endif
