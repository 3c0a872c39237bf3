/*
 * web_http.h - the HTTP side: pages, the JSON API, the live event stream
 * and writes, on civetweb's worker threads.
 */
#ifndef WEB_HTTP_H
#define WEB_HTTP_H

#include <stddef.h>

#include "web_state.h"

struct mg_context;

struct web_asset {
    const char *path, *type;
    const unsigned char *data;
    size_t len;
};
extern const struct web_asset web_assets[]; /* ends with a NULL path */

struct web_http {
    struct web_state *s;
    char token[256];          /* operator token; "" = read-only service */
    unsigned max_clients;     /* live streams at once */
    unsigned fps;             /* frames per second per stream, at most */
};

void web_http_register(struct mg_context *ctx, struct web_http *h);

#endif
