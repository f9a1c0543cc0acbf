/*
 * transport.c - the contract's entry points: each forwards to the
 * implementation behind the object (see transport.h).
 */
#include "oneoff/transport.h"

#include <string.h>

void transport_result_init(struct transport_result *res)
{
    memset(res, 0, sizeof(*res));
    res->outcome = OUTCOME_ERROR;
    res->exit_code = -1;
}

int transport_open(struct transport *t, const struct transport_target *tg,
                   const struct transport_cmd *cmd,
                   const struct transport_sink *sink, struct tchan **out,
                   struct transport_result *res)
{
    return t->ops->open(t, tg, cmd, sink, out, res);
}

int tchan_pump(struct tchan *c, struct transport_result *res)
{
    return c->ops->pump(c, res);
}

int tchan_write(struct tchan *c, const void *p, size_t n)
{
    return c->ops->write(c, p, n);
}

int tchan_close_stdin(struct tchan *c)
{
    return c->ops->close_stdin(c);
}

int tchan_resize(struct tchan *c, unsigned cols, unsigned rows)
{
    return c->ops->resize(c, cols, rows);
}

int tchan_again(struct tchan *c, const struct transport_cmd *cmd,
                const struct transport_sink *sink, struct transport_result *res)
{
    return c->ops->again(c, cmd, sink, res);
}

void tchan_free(struct tchan *c)
{
    if (c)
        c->ops->free_chan(c);
}

void transport_free(struct transport *t)
{
    if (t)
        t->ops->free(t);
}
