/*
 * ssh_config_int.h - what the three files of the ssh_config module share:
 * the parsed form of a configuration (ssh_config_parse.c builds it,
 * ssh_config.c walks it) and OpenSSH's lexical and matching rules
 * (ssh_config_lex.c). Not part of the module's contract.
 */
#ifndef ONEOFF_SSH_CONFIG_INT_H
#define ONEOFF_SSH_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/ssh_config.h"
#include "oneoff/util.h"

/* The directives a walk acts on; every other keyword is checked when the
 * file is parsed and then dropped. */
enum sshcfg_kw {
    KW_HOST,
    KW_MATCH,
    KW_INCLUDE,
    KW_HOSTNAME,
    KW_USER,
    KW_PORT,
    KW_IDENTITYFILE,
    KW_IDENTITIESONLY,
    KW_CERTIFICATEFILE,
    KW_PROXYJUMP,
    KW_PROXYCOMMAND,
    KW_USERKNOWNHOSTSFILE,
    KW_HOSTKEYALIAS,
    KW_STRICTHOSTKEYCHECKING,
    KW_CONNECTTIMEOUT,
    KW_SERVERALIVEINTERVAL,
    KW_SERVERALIVECOUNTMAX,
    KW_BATCHMODE,
    KW_IGNOREUNKNOWN,
    KW_ADDRESSFAMILY,
    KW_CANONICALIZEHOSTNAME,
    KW_CANONICALDOMAINS,
    KW_CANONICALIZEMAXDOTS,
    KW_CANONICALIZEFALLBACKLOCAL,
    KW_CANONICALIZEPERMITTEDCNAMES,
    KW_ALGS,    /* an algorithm list; ival is its enum sshcfg_alg slot */
    KW_EXTRA,   /* a value ssh checks late; ival is its enum sshcfg_extra */
    KW_UNKNOWN, /* not a keyword: an error unless IgnoreUnknown matches */
    KW_ERROR,   /* a line ssh rejects; str is the message */
    KW_COUNT
};

enum sshcfg_crit {
    CRIT_ALL,
    CRIT_CANONICAL,
    CRIT_FINAL,
    CRIT_HOST,
    CRIT_ORIGINALHOST,
    CRIT_USER,
    CRIT_LOCALUSER,
    CRIT_EXEC
};

struct sshcfg_match {
    enum sshcfg_crit crit;
    bool negate;
    char *arg; /* NULL for all, canonical, final */
};

struct sshcfg_file;

/* One directive line. */
struct sshcfg_dir {
    enum sshcfg_kw kw;
    unsigned line;
    const char *path;    /* the file's path, owned by its sshcfg_file */
    char *str;           /* the value of a one-string keyword, the keyword of
                            KW_UNKNOWN, the message of KW_ERROR */
    int ival;            /* numbers and multi-state values */
    struct strlist args; /* Host patterns, UserKnownHostsFile, domains */
    struct sshcfg_match *match;
    size_t nmatch;
    struct sshcfg_file **inc; /* Include: the files, in glob order */
    size_t ninc;
    /* ProxyJump: the last hop and the ones before it, or "none" */
    char *jump_user, *jump_host, *jump_extra;
    int jump_port;
    bool jump_none;
};

struct sshcfg_file {
    char *path;
    bool user;        /* a user file (relative Include under ~/.ssh) */
    char *open_error; /* set when the file cannot be used: said on use */
    bool missing;     /* it does not exist (nothing to read) */
    struct sshcfg_dir *dirs;
    size_t ndirs, alloc;
    struct sshcfg_file *next; /* every parsed file, for freeing and reuse */
};

struct sshcfg {
    struct sshcfg_file *top[2]; /* the files read, in order */
    size_t ntop;
    struct sshcfg_file *files; /* all of them */
    char *local_user;
    char *home_dir;
    char *include_home;
    char *thishost; /* gethostname(), for %l %L %C */
    char uid[24];   /* for %i */
    unsigned default_port;
};

/* How a keyword's value is checked. */
enum sshcfg_vkind {
    V_TRACK,  /* a directive of its own: see parse_tracked() */
    V_FLAG,   /* yes/no/true/false */
    V_YNA,    /* ... or ask */
    V_PUBKEY, /* ... or unbound, host-bound */
    V_CTLMASTER,
    V_TUNNEL,
    V_TTY,
    V_SESSION,
    V_COMPRESS,
    V_TIME,
    V_INT,
    V_STR,   /* one word */
    V_CMD,   /* the rest of the line, verbatim */
    V_ARRAY, /* words, "none" alone */
    V_ANY,   /* any words (deprecated, unsupported, ignored) */
    V_LOCALFWD,
    V_REMOTEFWD,
    V_DYNFWD,
    V_PERMITOPEN,
    V_ESCAPE,
    V_LOGLEVEL,
    V_FACILITY,
    V_REKEY,
    V_CTLPERSIST,
    V_TUNDEV,
    V_IPQOS,
    V_MASK,
    V_FPHASH,
    V_ADDKEYS,
    V_AGENT,
    V_FWDAGENT,
    V_SENDENV,
    V_SETENV,
    V_CIPHERS, /* algorithm lists: see ssh_config_algs.c */
    V_MACS,
    V_KEX,
    V_KEYS,
    V_SIGS,
    V_GSSKEX,
};

struct sshcfg_keyword {
    const char *name;
    enum sshcfg_vkind vk;
    /* V_TRACK: enum sshcfg_kw; algorithm lists: enum sshcfg_alg; others:
     * 1 + enum sshcfg_extra, or 0 */
    int arg;
};

/* One line while it is checked. */
struct sshcfg_line {
    struct sshcfg *cfg;
    struct sshcfg_file *file;
    unsigned lineno;
    unsigned depth;
    const char *keyword;
    char *str; /* the rest of the line after the keyword */
    struct strlist av;
    size_t ai; /* next word of av */
};

/* ssh_config_parse.c: a new directive of l's file, at l's line. */
struct sshcfg_dir *sshcfg_line_dir(struct sshcfg_line *l, enum sshcfg_kw kw);
/* Records l as a line ssh rejects (a KW_ERROR directive); returns -1. */
int sshcfg_line_bad(struct sshcfg_line *l, const char *fmt, ...)
    ONEOFF_PRINTF(2, 3);

/* ssh_config_check.c: the keyword table and the value checks. Each check
 * takes the next word(s) of l and returns 0, or -1 after recording the
 * error with sshcfg_line_bad(). */
const struct sshcfg_keyword *sshcfg_keyword_find(const char *name);
const char *sshcfg_line_next(struct sshcfg_line *l);
int sshcfg_line_missing(struct sshcfg_line *l);
int sshcfg_check_other(struct sshcfg_line *l, const struct sshcfg_keyword *k);
/* ssh_config_algs.c: Ciphers, MACs, KexAlgorithms, the key and signature
 * algorithm lists and GSSAPIKexAlgorithms, checked against the names this
 * ssh knows when the line is read; the list a host ends up with is checked
 * again by sshcfg_algs_usable(), in the order of the slots. */
enum sshcfg_alg {
    ALG_CIPHERS,
    ALG_MACS,
    ALG_KEX,
    ALG_HOSTBASED,
    ALG_PUBKEY,
    ALG_CASIG,
    ALG_HOSTKEY, /* checked last: by ssh -G's dump */
    ALG_COUNT
};
int sshcfg_check_algs(struct sshcfg_line *l, enum sshcfg_vkind vk, int slot);

/* Keywords oneoff does not use whose value ssh checks only once the host's
 * options are complete (expansions, ConnectionAttempts 0): kept as
 * KW_EXTRA directives, first value wins, checked by the resolver. */
enum sshcfg_extra {
    EX_FDPASS,
    EX_CONNATTEMPTS,
    EX_REMOTECMD,
    EX_CONTROLPATH,
    EX_IDENTITYAGENT,
    EX_FWDAGENT, /* only ForwardAgent lines that name a socket */
    EX_COUNT
};
bool sshcfg_algs_usable(enum sshcfg_alg slot, const char *value);
/* yes/no/true/false into *v (1 or 0). */
int sshcfg_check_flag(struct sshcfg_line *l, int *v);
/* The multi-state value of StrictHostKeyChecking, AddressFamily (4, 6, 0)
 * or CanonicalizeHostname (0 no, 1 yes, 2 always) into *v. */
int sshcfg_check_state(struct sshcfg_line *l, enum sshcfg_kw kw, int *v);
/* Seconds, -1 for "none", into *v. */
int sshcfg_check_time(struct sshcfg_line *l, int *v);
int sshcfg_check_int(struct sshcfg_line *l, int *v);
/* Words, each non-empty and "none" only alone, appended to out (NULL:
 * only checked). */
int sshcfg_check_array(struct sshcfg_line *l, struct strlist *out);

/* ssh_config_parse.c: parses PATH (a user or a system file) and everything
 * it includes into cfg->files; *out is the file, with open_error set when
 * it cannot be read. Returns -1 only for errors that are not about a line
 * (err says why). */
int sshcfg_parse_file(struct sshcfg *cfg, const char *path, bool user,
                      bool checkperm, unsigned depth, struct sshcfg_file **out,
                      char *err);
void sshcfg_files_free(struct sshcfg_file *f);
/* parse_jump(): S into d's jump members; -1 when ssh rejects it. strict:
 * as from ssh's command line, where every user and host is checked too
 * (err says which). */
int sshcfg_parse_jump(const char *s, struct sshcfg_dir *d, bool strict,
                      char *err);

/* ssh_config_lex.c: OpenSSH's lexical rules (misc.c, match.c). */

/* strdelim(): the next token of *s, splitting on whitespace, one '=' and
 * double quotes; NULL at the end or on an unmatched quote. Modifies *s. */
char *sshcfg_strdelim(char **s);
/* argv_split(s, .., terminate_on_comment=1): -1 on an unmatched quote. */
int sshcfg_argv_split(const char *s, struct strlist *out);
/* match_pattern(): '*' and '?' wildcards, case-sensitive. */
bool sshcfg_match_pattern(const char *s, const char *pattern);
/* match_pattern_list(): 1 positive, -1 negated match, 0 none. */
int sshcfg_match_list(const char *s, const char *list, bool dolower);
/* match_hostname(): the list against a lowercased host. */
int sshcfg_match_hostname(const char *host, const char *list);
/* convtime(): "1h30m" into seconds, -1 when invalid. */
long sshcfg_convtime(const char *s);
/* a2port(): a number 0..65535 or a service name; -1 when invalid. */
int sshcfg_a2port(const char *s);
/* atoi_err(): NULL or why s is not an int in 0..INT_MAX. */
const char *sshcfg_atoi_err(const char *s, int *val);
/* parse_user_host_port() / parse_ssh_uri() (0 ok, 1 not a URI, -1 bad):
 * outputs may be NULL; port -1 when absent. */
int sshcfg_parse_user_host_port(const char *s, char **user, char **host,
                                int *port);
int sshcfg_parse_ssh_uri(const char *s, char **user, char **host, int *port);

/* valid_hostname() and valid_ruser() of ssh.c: what ssh accepts as a host
 * or a user on its command line (no shell metacharacters). */
bool sshcfg_valid_hostname(const char *s);
bool sshcfg_valid_ruser(const char *s);
/* valid_domain(): letters, digits, '.', '-', '_'; strips a final '.'. */
bool sshcfg_valid_domain(char *name, bool makelower);

/* One %-token and its replacement. */
struct sshcfg_token {
    char key;
    const char *val;
};
/* percent_expand() (dollar false), percent_dollar_expand() (dollar true,
 * ${VAR} from the environment) or dollar_expand() (tok NULL: '%' is
 * literal). -1 with err ("unknown token %x") when ssh would refuse the
 * string. */
int sshcfg_expand(const char *s, const struct sshcfg_token *tok, size_t ntok,
                  bool dollar, char **out, char *err);
/* tilde_expand_filename() with home for "~" and "~/"; "~user" from the
 * password database. */
int sshcfg_tilde(const char *s, const char *home, char **out, char *err);
/* The SHA-1 of the concatenation of parts, as 40 hex digits (%C). */
void sshcfg_conn_hash(const char *const *parts, size_t n, char out[41]);
void sshcfg_lowercase(char *s);

/* ssh_config_walk.c: pass over the files for one host. */

#define SSHCFG_INCLUDE_MAX_DEPTH 16

/* A path of an identity or certificate list and whether a user file gave
 * it (ssh de-duplicates per origin). */
struct sshcfg_pathent {
    const char *path;
    bool user;
    const struct sshcfg_dir *d; /* the line, or NULL for a default */
};

struct sshcfg_pathlist {
    struct sshcfg_pathent *v;
    size_t n, alloc;
};

/* The members of OpenSSH's Options that oneoff resolves. Strings point
 * into the configuration, the target, or `owned`. */
struct sshcfg_state {
    const char *hostname;
    const struct sshcfg_dir *hostname_dir;
    const char *user;
    int port;
    struct sshcfg_pathlist ids, certs;
    int identities_only;
    const char *jump_host, *jump_user, *jump_extra;
    int jump_port;
    const struct sshcfg_dir *jump_dir;
    const char *proxy_command;
    const struct sshcfg_dir *known_hosts;
    const char *host_key_alias;
    int strict, connect_timeout, alive_interval, alive_count, batch_mode;
    const char *ignored_unknown;
    int address_family, canon, canon_max_dots, canon_fallback;
    const struct sshcfg_dir *canon_dir, *domains_dir, *cnames_dir;
    const struct strlist *domains;
    int cnames;
    const struct sshcfg_dir *algs[ALG_COUNT];
    const struct sshcfg_dir *extra[EX_COUNT];
    struct strlist owned;
};

struct sshcfg_walk {
    const struct sshcfg *cfg;
    struct sshcfg_state *o;
    const char *host;     /* what Host patterns match */
    const char *original; /* the alias */
    bool final_pass;
    bool want_final;
    char *err;
};

/* "FILE:LINE: message" into err (just the message when d is NULL); -1. */
int sshcfg_located(char *err, const struct sshcfg_dir *d, const char *fmt, ...)
    ONEOFF_PRINTF(3, 4);
void sshcfg_path_add(struct sshcfg_pathlist *l, const char *path, bool user,
                     const struct sshcfg_dir *d);
/* Keeps s (allocated) as long as o, and returns it. */
const char *sshcfg_state_own(struct sshcfg_state *o, char *s);
void sshcfg_state_init(struct sshcfg_state *o);
void sshcfg_state_release(struct sshcfg_state *o);
/* ProxyJump d, taken if nothing set a jump or a ProxyCommand before. */
void sshcfg_apply_jump(struct sshcfg_state *o, const struct sshcfg_dir *d);
/* One pass over every file, as read_config_file() for each. */
int sshcfg_walk_all(struct sshcfg_walk *w);
/* is_addr() of ssh.c: a single numeric address (no DNS). */
bool sshcfg_is_addr(const struct sshcfg_state *o, const char *name);
/* resolve_canonicalize() and the CNAME step of ssh.c main(), as far as
 * they go without the DNS; *host may be replaced. */
int sshcfg_canonicalize(struct sshcfg_walk *w, char **host, bool was_addr);

#endif
