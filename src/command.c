/*
 * command.c - help and usage messages shared by the subcommands.
 */
#include <stdio.h>

#include "oneoff/commands.h"

const char exit_codes_help[] =
    "exit codes:\n"
    "  0    every selected host succeeded\n"
    "  1    the task failed on some host\n"
    "  2    usage or configuration error\n"
    "  3    a host could not be reached or authenticated\n"
    "  4    refused for safety (host key, lock held, release drift,\n"
    "       declined confirmation)\n"
    "  130  interrupted\n"
    "  where several apply, the first of 130, 4, 3, 1 wins\n";

void command_print_help(const struct command *c)
{
    printf("usage: oneoff %s %s\n\n%s\n\noptions:\n", c->name, c->usage,
           c->help);
    cli_print_option_help(c->opts);
    printf("\n%s", exit_codes_help);
}

int command_usage_error(const struct command *c, const char *msg)
{
    fprintf(stderr, "oneoff: %s\n", msg);
    fprintf(stderr, "usage: oneoff %s %s (see 'oneoff %s --help')\n",
            c->name, c->usage, c->name);
    return EXIT_USAGE;
}
