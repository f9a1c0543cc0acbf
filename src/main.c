/*
 * main.c - finds the subcommand and hands over. Nothing else lives here.
 */
#include <stdio.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/text.h"
#include "oneoff/version.h"

static const struct command *const commands[] = {
    &cmd_run,   &cmd_exec,   &cmd_console, &cmd_promote,
    &cmd_check, &cmd_hosts,  &cmd_tasks,   &cmd_history,
    &cmd_show,  &cmd_status, &cmd_logs,    &cmd_cancel,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_main_help(void)
{
    printf("usage: oneoff [-C DIR] COMMAND [OPTIONS] [-- ARGS...]\n\n"
           "Runs an application's admin tasks on its servers over SSH, in "
           "the deployed\nrelease, with the app's environment.\n\n"
           "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %-8s %s\n", commands[i]->name, commands[i]->summary);
    printf("  %-8s %s\n", "help", "describe a command: oneoff help COMMAND");
    printf("\n'oneoff help COMMAND' (or 'oneoff COMMAND --help') describes a "
           "command.\n\n%s",
           exit_codes_help);
}

/* "'rn' is not a command; did you mean 'run'?" to stderr. */
static int not_a_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    const char *best;
    char q[256];

    for (size_t k = 0; k < NCOMMANDS; k++)
        names[k] = commands[k]->name;
    names[NCOMMANDS] = "help";
    best = cli_closest(name, names, NCOMMANDS + 1);
    text_escape_msg(name, q, sizeof(q));
    if (best)
        fprintf(stderr, "oneoff: '%s' is not a command; did you mean '%s'?\n",
                q, best);
    else
        fprintf(stderr, "oneoff: '%s' is not a command (see 'oneoff help')\n",
                q);
    return EXIT_USAGE;
}

static const struct command *find_command(const char *name)
{
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (strcmp(name, commands[k]->name) == 0)
            return commands[k];
    return NULL;
}

/* `oneoff help [COMMAND]`: the same as --help. */
static int help(int argc, char **argv)
{
    const struct command *c;

    if (argc < 1) {
        print_main_help();
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "oneoff: usage: oneoff help [COMMAND]\n");
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "help") == 0) {
        printf("usage: oneoff help [COMMAND]\n\nDescribes COMMAND, or lists "
               "the commands; the same as\n'oneoff COMMAND --help' and "
               "'oneoff --help'.\n");
        return EXIT_OK;
    }
    c = find_command(argv[0]);
    if (c == NULL)
        return not_a_command(argv[0]);
    command_print_help(c);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    const struct command *c;
    struct options o;
    char err[ERR_MAX], q[256];
    int i = 1, rc;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--version") == 0) {
            printf("oneoff %s\n", ONEOFF_VERSION);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_main_help();
            return EXIT_OK;
        }
        if (strcmp(argv[i], "-C") == 0 && i + 1 < argc) {
            dir = argv[i + 1];
            i += 2;
            continue;
        }
        fprintf(stderr, "oneoff: unknown option '%s' (see 'oneoff --help')\n",
                text_escape_msg(argv[i], q, sizeof(q)));
        return EXIT_USAGE;
    }
    if (i >= argc) {
        fprintf(stderr, "oneoff: no command given (see 'oneoff --help')\n");
        return EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0)
        return help(argc - i - 1, argv + i + 1);
    c = find_command(argv[i]);
    if (c == NULL)
        return not_a_command(argv[i]);
    options_init(&o);
    o.dir = dir;
    if (cli_parse(&o, argc - i, argv + i, c->opts, err)) {
        rc = command_usage_error(c, err);
    } else if (o.help) {
        command_print_help(c);
        rc = EXIT_OK;
    } else {
        rc = c->run(&o);
    }
    options_release(&o);
    return rc;
}
