/*
 * ssh_config_check.c - the keywords of OpenSSH 9.2's client (Debian's
 * additions included) and how each one's value is checked, as
 * process_config_line() checks it. Keywords oneoff does not use are
 * checked for the number of words and, where the rule is simple, the value
 * (forwarding specifications only for their number of words).
 */
#define _GNU_SOURCE
#include "ssh_config_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct sshcfg_keyword keywords[] = {
    {"protocol", V_ANY, 0},
    {"cipher", V_ANY, 0},
    {"fallbacktorsh", V_ANY, 0},
    {"globalknownhostsfile2", V_ANY, 0},
    {"rhostsauthentication", V_ANY, 0},
    {"userknownhostsfile2", V_ANY, 0},
    {"useroaming", V_ANY, 0},
    {"usersh", V_ANY, 0},
    {"useprivilegedport", V_ANY, 0},
    {"useblacklistedkeys", V_ANY, 0}, /* Debian */
    {"afstokenpassing", V_ANY, 0},
    {"kerberosauthentication", V_ANY, 0},
    {"kerberostgtpassing", V_ANY, 0},
    {"rsaauthentication", V_ANY, 0},
    {"rhostsrsaauthentication", V_ANY, 0},
    {"compressionlevel", V_ANY, 0},
    {"gssapiauthentication", V_FLAG, 0},
    {"gssapidelegatecredentials", V_FLAG, 0},
    {"gssapikeyexchange", V_FLAG, 0},        /* Debian */
    {"gssapiclientidentity", V_STR, 0},      /* Debian */
    {"gssapiserveridentity", V_STR, 0},      /* Debian */
    {"gssapirenewalforcesrekey", V_FLAG, 0}, /* Debian */
    {"gssapitrustdns", V_FLAG, 0},           /* Debian */
    {"gssapikexalgorithms", V_GSSKEX, 0},    /* Debian */
    {"pkcs11provider", V_STR, 0},
    {"smartcarddevice", V_STR, 0},
    {"forwardagent", V_FWDAGENT, 1 + EX_FWDAGENT},
    {"forwardx11", V_FLAG, 0},
    {"forwardx11trusted", V_FLAG, 0},
    {"forwardx11timeout", V_TIME, 0},
    {"exitonforwardfailure", V_FLAG, 0},
    {"xauthlocation", V_STR, 0},
    {"gatewayports", V_FLAG, 0},
    {"passwordauthentication", V_FLAG, 0},
    {"kbdinteractiveauthentication", V_FLAG, 0},
    {"kbdinteractivedevices", V_STR, 0},
    {"challengeresponseauthentication", V_FLAG, 0},
    {"skeyauthentication", V_FLAG, 0},
    {"tisauthentication", V_FLAG, 0},
    {"pubkeyauthentication", V_PUBKEY, 0},
    {"dsaauthentication", V_PUBKEY, 0},
    {"hostbasedauthentication", V_FLAG, 0},
    {"identityfile", V_TRACK, KW_IDENTITYFILE},
    {"identityfile2", V_TRACK, KW_IDENTITYFILE},
    {"identitiesonly", V_TRACK, KW_IDENTITIESONLY},
    {"certificatefile", V_TRACK, KW_CERTIFICATEFILE},
    {"addkeystoagent", V_ADDKEYS, 0},
    {"identityagent", V_AGENT, 1 + EX_IDENTITYAGENT},
    {"hostname", V_TRACK, KW_HOSTNAME},
    {"hostkeyalias", V_TRACK, KW_HOSTKEYALIAS},
    {"proxycommand", V_TRACK, KW_PROXYCOMMAND},
    {"port", V_TRACK, KW_PORT},
    {"ciphers", V_CIPHERS, ALG_CIPHERS},
    {"macs", V_MACS, ALG_MACS},
    {"remoteforward", V_REMOTEFWD, 0},
    {"localforward", V_LOCALFWD, 0},
    {"permitremoteopen", V_PERMITOPEN, 0},
    {"user", V_TRACK, KW_USER},
    {"host", V_TRACK, KW_HOST},
    {"match", V_TRACK, KW_MATCH},
    {"escapechar", V_ESCAPE, 0},
    {"globalknownhostsfile", V_ARRAY, 0},
    {"userknownhostsfile", V_TRACK, KW_USERKNOWNHOSTSFILE},
    {"connectionattempts", V_INT, 1 + EX_CONNATTEMPTS},
    {"batchmode", V_TRACK, KW_BATCHMODE},
    {"checkhostip", V_FLAG, 0},
    {"stricthostkeychecking", V_TRACK, KW_STRICTHOSTKEYCHECKING},
    {"compression", V_COMPRESS, 0},
    {"tcpkeepalive", V_FLAG, 0},
    {"keepalive", V_FLAG, 0},
    {"numberofpasswordprompts", V_INT, 0},
    {"syslogfacility", V_FACILITY, 0},
    {"loglevel", V_LOGLEVEL, 0},
    {"logverbose", V_ARRAY, 0},
    {"dynamicforward", V_DYNFWD, 0},
    {"preferredauthentications", V_STR, 0},
    {"hostkeyalgorithms", V_KEYS, ALG_HOSTKEY},
    {"casignaturealgorithms", V_SIGS, ALG_CASIG},
    {"bindaddress", V_STR, 0},
    {"bindinterface", V_STR, 0},
    {"clearallforwardings", V_FLAG, 0},
    {"enablesshkeysign", V_FLAG, 0},
    {"verifyhostkeydns", V_YNA, 0},
    {"nohostauthenticationforlocalhost", V_FLAG, 0},
    {"rekeylimit", V_REKEY, 0},
    {"connecttimeout", V_TRACK, KW_CONNECTTIMEOUT},
    {"addressfamily", V_TRACK, KW_ADDRESSFAMILY},
    {"serveraliveinterval", V_TRACK, KW_SERVERALIVEINTERVAL},
    {"protocolkeepalives", V_TRACK, KW_SERVERALIVEINTERVAL}, /* Debian */
    {"setuptimeout", V_TRACK, KW_SERVERALIVEINTERVAL},       /* Debian */
    {"serveralivecountmax", V_TRACK, KW_SERVERALIVECOUNTMAX},
    {"sendenv", V_SENDENV, 0},
    {"setenv", V_SETENV, 0},
    {"controlpath", V_STR, 1 + EX_CONTROLPATH},
    {"controlmaster", V_CTLMASTER, 0},
    {"controlpersist", V_CTLPERSIST, 0},
    {"hashknownhosts", V_FLAG, 0},
    {"include", V_TRACK, KW_INCLUDE},
    {"tunnel", V_TUNNEL, 0},
    {"tunneldevice", V_TUNDEV, 0},
    {"localcommand", V_CMD, 0},
    {"permitlocalcommand", V_FLAG, 0},
    {"remotecommand", V_CMD, 1 + EX_REMOTECMD},
    {"visualhostkey", V_FLAG, 0},
    {"kexalgorithms", V_KEX, ALG_KEX},
    {"ipqos", V_IPQOS, 0},
    {"requesttty", V_TTY, 0},
    {"sessiontype", V_SESSION, 0},
    {"stdinnull", V_FLAG, 0},
    {"forkafterauthentication", V_FLAG, 0},
    {"proxyusefdpass", V_FLAG, 1 + EX_FDPASS},
    {"canonicaldomains", V_TRACK, KW_CANONICALDOMAINS},
    {"canonicalizefallbacklocal", V_TRACK, KW_CANONICALIZEFALLBACKLOCAL},
    {"canonicalizehostname", V_TRACK, KW_CANONICALIZEHOSTNAME},
    {"canonicalizemaxdots", V_TRACK, KW_CANONICALIZEMAXDOTS},
    {"canonicalizepermittedcnames", V_TRACK, KW_CANONICALIZEPERMITTEDCNAMES},
    {"streamlocalbindmask", V_MASK, 0},
    {"streamlocalbindunlink", V_FLAG, 0},
    {"revokedhostkeys", V_STR, 0},
    {"fingerprinthash", V_FPHASH, 0},
    {"updatehostkeys", V_YNA, 0},
    {"hostbasedacceptedalgorithms", V_KEYS, ALG_HOSTBASED},
    {"hostbasedkeytypes", V_KEYS, ALG_HOSTBASED},
    {"pubkeyacceptedalgorithms", V_KEYS, ALG_PUBKEY},
    {"pubkeyacceptedkeytypes", V_KEYS, ALG_PUBKEY},
    {"ignoreunknown", V_TRACK, KW_IGNOREUNKNOWN},
    {"proxyjump", V_TRACK, KW_PROXYJUMP},
    {"securitykeyprovider", V_STR, 0},
    {"knownhostscommand", V_CMD, 0},
    {"requiredrsasize", V_INT, 0},
    {"enableescapecommandline", V_FLAG, 0},
};

static const char *const flag_words[] = {"yes", "no", "true", "false", NULL};
static const char *const yna_words[] = {"yes",   "no",  "true",
                                        "false", "ask", NULL};
static const char *const pubkey_words[] = {
    "yes", "no", "true", "false", "unbound", "host-bound", NULL};
static const char *const ctlmaster_words[] = {"yes",  "no",  "true",    "false",
                                              "auto", "ask", "autoask", NULL};
static const char *const tunnel_words[] = {
    "yes", "no", "true", "false", "ethernet", "point-to-point", NULL};
static const char *const tty_words[] = {"yes",   "no",   "true", "false",
                                        "force", "auto", NULL};
static const char *const session_words[] = {"none", "subsystem", "default",
                                            NULL};
static const char *const compress_words[] = {"yes", "no", NULL};
static const char *const loglevel_words[] = {
    "quiet", "fatal",  "error",  "info",   "verbose",
    "debug", "debug1", "debug2", "debug3", NULL};
static const char *const facility_words[] = {
    "daemon", "user",   "auth",   "authpriv", "local0", "local1", "local2",
    "local3", "local4", "local5", "local6",   "local7", NULL};
static const char *const fphash_words[] = {"md5",    "sha1",   "sha256",
                                           "sha384", "sha512", NULL};
static const char *const ipqos_words[] = {
    "none", "af11", "af12",     "af13",       "af21",        "af22", "af23",
    "af31", "af32", "af33",     "af41",       "af42",        "af43", "cs0",
    "cs1",  "cs2",  "cs3",      "cs4",        "cs5",         "cs6",  "cs7",
    "ef",   "le",   "lowdelay", "throughput", "reliability", NULL};

/* The multi-state values a walk needs; -1 when s is none of them. */
static const struct {
    const char *word;
    int val;
} strict_words[] = {{"true", SSHCFG_STRICT_YES},
                    {"false", SSHCFG_STRICT_OFF},
                    {"yes", SSHCFG_STRICT_YES},
                    {"no", SSHCFG_STRICT_OFF},
                    {"ask", SSHCFG_STRICT_ASK},
                    {"off", SSHCFG_STRICT_OFF},
                    {"accept-new", SSHCFG_STRICT_ACCEPT_NEW}},
  af_words[] = {{"inet", 4}, {"inet6", 6}, {"any", 0}},
  canon_words[] = {
      {"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0}, {"always", 2}};

static int word_index(const char *const *words, const char *s)
{
    for (int i = 0; words[i] != NULL; i++)
        if (strcasecmp(words[i], s) == 0)
            return i;
    return -1;
}

#define WORD_VALUE(tab, s, out)                                                \
    do {                                                                       \
        *(out) = -1;                                                           \
        for (size_t i_ = 0; i_ < sizeof(tab) / sizeof(tab[0]); i_++)           \
            if (strcasecmp((tab)[i_].word, (s)) == 0)                          \
                *(out) = (tab)[i_].val;                                        \
    } while (0)

const char *sshcfg_line_next(struct sshcfg_line *l)
{
    return l->ai < l->av.n ? l->av.v[l->ai++] : NULL;
}

int sshcfg_line_missing(struct sshcfg_line *l)
{
    return sshcfg_line_bad(l, "missing argument for '%s'", l->keyword);
}

static int check_words(struct sshcfg_line *l, const char *const *words)
{
    const char *a = sshcfg_line_next(l);

    if (a == NULL || *a == '\0')
        return sshcfg_line_missing(l);
    if (word_index(words, a) < 0)
        return sshcfg_line_bad(l, "unsupported value '%s' for '%s'", a,
                               l->keyword);
    return 0;
}

/* parse_time: seconds, -1 for "none"; -2 after an error. */
static long check_time(struct sshcfg_line *l)
{
    const char *a = sshcfg_line_next(l);
    long v;

    if (a == NULL || *a == '\0') {
        sshcfg_line_bad(l, "missing time value for '%s'", l->keyword);
        return -2;
    }
    if (strcmp(a, "none") == 0)
        return -1;
    if ((v = sshcfg_convtime(a)) < 0) {
        sshcfg_line_bad(l, "invalid time value '%s' for '%s'", a, l->keyword);
        return -2;
    }
    return v;
}

static int check_int(struct sshcfg_line *l, int *val)
{
    const char *a = sshcfg_line_next(l), *why;

    if ((why = sshcfg_atoi_err(a, val)) != NULL)
        return sshcfg_line_bad(l, "integer value for '%s' is %s", l->keyword,
                               why);
    return 0;
}

/* parse_char_array and friends: words, each non-empty, "none" alone. */
int sshcfg_check_array(struct sshcfg_line *l, struct strlist *out)
{
    const char *a;
    size_t i = 0;

    while ((a = sshcfg_line_next(l)) != NULL) {
        if (*a == '\0')
            return sshcfg_line_bad(l, "empty argument for '%s'", l->keyword);
        if (strcasecmp(a, "none") == 0 && (i > 0 || l->ai < l->av.n))
            return sshcfg_line_bad(l, "'none' must appear alone for '%s'",
                                   l->keyword);
        i++;
        if (out != NULL)
            strlist_push(out, a);
    }
    return 0;
}

/* scan_scaled(): a number, one '.', then nothing or one unit letter. */
static bool scaled_ok(const char *p)
{
    bool dot = false;

    while (isspace((unsigned char)*p))
        p++;
    if (*p == '-' || *p == '+')
        p++;
    for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
        if (*p == '.' && dot)
            return false;
        dot |= *p == '.';
    }
    if (*p == '\0')
        return true;
    return strchr("BKMGTPEbkmgtpe", *p) != NULL &&
           !isalnum((unsigned char)p[1]);
}

static bool tun_ok(const char *s)
{
    char *end;
    long v;

    if (strcasecmp(s, "any") == 0)
        return true;
    errno = 0;
    v = strtol(s, &end, 10);
    return end != s && *end == '\0' && errno == 0 && v >= 0 && v <= 0x7ffffffd;
}

/* parse_fwd_field(): the next field of a forwarding, [bracketed] or up to
 * a ':' (with '\\' escapes); -1 at the end or when malformed. */
static int fwd_field(char **p, char **arg, bool *ispath)
{
    char *cp = *p, *ep;

    *ispath = false;
    if (*cp == '\0') {
        *p = NULL;
        return -1;
    }
    if (*cp == '[') {
        for (ep = cp + 1; *ep != ']' && *ep != '\0'; ep++)
            *ispath |= *ep == '/';
        if (ep[0] != ']' || (ep[1] != ':' && ep[1] != '\0'))
            return -1;
        *ep++ = '\0';
        if (*ep != '\0')
            *ep++ = '\0';
        *arg = cp + 1;
        *p = ep;
        return 0;
    }
    for (; *cp != '\0'; cp++) {
        if (*cp == '\\') {
            memmove(cp, cp + 1, strlen(cp + 1) + 1);
            if (*cp == '\0')
                return -1;
        } else if (*cp == '/') {
            *ispath = true;
        } else if (*cp == ':') {
            *cp++ = '\0';
            break;
        }
    }
    *arg = *p;
    *p = cp;
    return 0;
}

/* parse_forward(): whether spec is a forwarding ssh accepts. */
static bool forward_ok(const char *spec, bool dynamic, bool remote)
{
    char *x = NULL, *cp, *arg[4] = {NULL}, e[ERR_MAX];
    bool path[4] = {false}, lpath = false, cpath = false;
    int i, lport = -1, cport = 0;

    if (sshcfg_expand(spec, NULL, 0, true, &x, e) != 0)
        return false;
    for (cp = x; isspace((unsigned char)*cp); cp++)
        ;
    for (i = 0; i < 4; i++)
        if (fwd_field(&cp, &arg[i], &path[i]) != 0)
            break;
    if (cp != NULL && *cp != '\0')
        i = 0;
    switch (i) {
    case 1:
        lpath = path[0];
        lport = lpath ? 0 : sshcfg_a2port(arg[0]);
        break;
    case 2:
        lpath = path[0] && path[1];
        cpath = path[1];
        lport = lpath ? 0 : sshcfg_a2port(arg[cpath ? 0 : 1]);
        break;
    case 3:
        lpath = path[0];
        cpath = !lpath && path[2];
        lport = lpath ? 0 : sshcfg_a2port(arg[cpath ? 1 : 0]);
        cport = cpath ? 0 : sshcfg_a2port(arg[2]);
        break;
    case 4:
        lport = sshcfg_a2port(arg[1]);
        cport = sshcfg_a2port(arg[3]);
        break;
    default:
        i = 0;
    }
    free(x);
    if (dynamic && i != 1 && i != 2)
        return false;
    if (!dynamic &&
        ((i != 3 && i != 4 && !cpath && !lpath) || (cport <= 0 && !cpath)))
        return false;
    if ((lport < 0 && !lpath) || (!remote && !lpath && lport == 0))
        return false;
    return i != 0;
}

static int check_forward(struct sshcfg_line *l, enum sshcfg_vkind vk)
{
    const char *a, *b = NULL;
    bool dynamic = vk == V_DYNFWD, remote = vk == V_REMOTEFWD;
    char spec[256];

    if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
        return sshcfg_line_missing(l);
    if (!dynamic) {
        b = sshcfg_line_next(l);
        if (b == NULL || *b == '\0') {
            if (!remote)
                return sshcfg_line_bad(l, "missing target argument for '%s'",
                                       l->keyword);
            dynamic = true;
        }
    }
    /* ssh joins the two words in a buffer of this size */
    if (dynamic)
        snprintf(spec, sizeof(spec), "%s", a);
    else
        snprintf(spec, sizeof(spec), "%s:%s", a, b);
    if (!forward_ok(spec, dynamic, remote))
        return sshcfg_line_bad(l, "bad forwarding specification '%s'", spec);
    return 0;
}

/* The value checks of keywords oneoff does not use. */
int sshcfg_check_other(struct sshcfg_line *l, const struct sshcfg_keyword *k)
{
    enum sshcfg_vkind vk = k->vk;
    const char *a, *b;
    int iv;

    switch (vk) {
    case V_FLAG:
        return check_words(l, flag_words);
    case V_YNA:
        return check_words(l, yna_words);
    case V_PUBKEY:
        return check_words(l, pubkey_words);
    case V_CTLMASTER:
        return check_words(l, ctlmaster_words);
    case V_TUNNEL:
        return check_words(l, tunnel_words);
    case V_TTY:
        return check_words(l, tty_words);
    case V_SESSION:
        return check_words(l, session_words);
    case V_COMPRESS:
        return check_words(l, compress_words);
    case V_TIME:
        return check_time(l) == -2 ? -1 : 0;
    case V_INT:
        return check_int(l, &iv);
    case V_STR:
        a = sshcfg_line_next(l);
        return a == NULL || *a == '\0' ? sshcfg_line_missing(l) : 0;
    case V_CMD:
    case V_ANY:
        l->ai = l->av.n;
        return 0;
    case V_ARRAY:
        return sshcfg_check_array(l, NULL);
    case V_LOCALFWD:
    case V_REMOTEFWD:
    case V_DYNFWD:
        return check_forward(l, vk);
    case V_PERMITOPEN: {
        size_t i = 0;

        while ((a = sshcfg_line_next(l)) != NULL) {
            if (strcasecmp(a, "none") == 0 || strcasecmp(a, "any") == 0) {
                if (i > 0 || l->ai < l->av.n)
                    return sshcfg_line_bad(l, "'%s' must appear alone for '%s'",
                                           a, l->keyword);
            } else {
                const char *colon = strrchr(a, ':');

                if (colon == NULL || colon == a ||
                    (strcmp(colon + 1, "*") != 0 &&
                     sshcfg_a2port(colon + 1) <= 0))
                    return sshcfg_line_bad(l, "bad port number in '%s'",
                                           l->keyword);
            }
            i++;
        }
        return i == 0 ? sshcfg_line_bad(l, "missing '%s' specification",
                                        l->keyword)
                      : 0;
    }
    case V_ESCAPE:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        if (strcmp(a, "none") == 0 || a[1] == '\0' ||
            (a[0] == '^' && a[2] == '\0' && (unsigned char)a[1] >= 64 &&
             (unsigned char)a[1] < 128))
            return 0;
        return sshcfg_line_bad(l, "bad escape character '%s'", a);
    case V_LOGLEVEL:
    case V_FACILITY:
        a = sshcfg_line_next(l);
        if (a == NULL ||
            word_index(vk == V_LOGLEVEL ? loglevel_words : facility_words, a) <
                0)
            return sshcfg_line_bad(
                l, "unsupported %s '%s'",
                vk == V_LOGLEVEL ? "log level" : "log facility", a ? a : "");
        return 0;
    case V_REKEY:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        if (strcmp(a, "default") != 0) {
            if (!scaled_ok(a))
                return sshcfg_line_bad(l, "bad number '%s' for '%s'", a,
                                       l->keyword);
            double v = strtod(a, NULL);

            if (v != 0 && v < 16 && strpbrk(a, "KMGTPEkmgtpe") == NULL)
                return sshcfg_line_bad(l, "'%s' too small", l->keyword);
        }
        if (l->ai < l->av.n) {
            if (strcmp(l->av.v[l->ai], "none") == 0) {
                l->ai++;
                return 0;
            }
            return check_time(l) == -2 ? -1 : 0;
        }
        return 0;
    case V_CTLPERSIST:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        if (strcmp(a, "no") == 0 || strcmp(a, "false") == 0 ||
            strcmp(a, "yes") == 0 || strcmp(a, "true") == 0 ||
            sshcfg_convtime(a) >= 0)
            return 0;
        return sshcfg_line_bad(l, "bad '%s' argument '%s'", l->keyword, a);
    case V_TUNDEV: {
        char *dup, *colon;
        bool ok;

        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        dup = xstrdup(a);
        colon = strchr(dup, ':');
        if (colon != NULL)
            *colon++ = '\0';
        ok = tun_ok(dup) && (colon == NULL || tun_ok(colon));
        free(dup);
        return ok ? 0 : sshcfg_line_bad(l, "bad tun device '%s'", a);
    }
    case V_IPQOS:
        for (int i = 0; i < 2; i++) {
            char *end;
            long v;

            a = sshcfg_line_next(l);
            if (a == NULL && i == 1)
                break;
            if (a != NULL && word_index(ipqos_words, a) >= 0)
                continue;
            if (a != NULL && *a != '\0') {
                v = strtol(a, &end, 0);
                if (*end == '\0' && v >= 0 && v <= 255)
                    continue;
            }
            return sshcfg_line_bad(l, "bad IPQoS value '%s'", a ? a : "");
        }
        return 0;
    case V_MASK: {
        char *end;
        long v;

        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        v = strtol(a, &end, 8);
        return end == a || v < 0 || v > 0777
                   ? sshcfg_line_bad(l, "bad mask '%s'", a)
                   : 0;
    }
    case V_FPHASH:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        return word_index(fphash_words, a) < 0
                   ? sshcfg_line_bad(l, "invalid hash algorithm '%s'", a)
                   : 0;
    case V_ADDKEYS: {
        static const char *const w[] = {"true", "false",   "yes", "no",
                                        "ask",  "confirm", NULL};
        int v;

        a = sshcfg_line_next(l);
        b = sshcfg_line_next(l);
        v = a == NULL ? -1 : word_index(w, a);
        if (v == 5 && b != NULL)
            return sshcfg_convtime(b) < 0
                       ? sshcfg_line_bad(l, "invalid time value '%s'", b)
                       : 0;
        if (v == -1 && b == NULL)
            return a == NULL || sshcfg_convtime(a) < 0
                       ? sshcfg_line_bad(l, "unsupported value for '%s'",
                                         l->keyword)
                       : 0;
        if (v == -1 || b != NULL)
            return sshcfg_line_bad(l, "unsupported value for '%s'", l->keyword);
        return 0;
    }
    case V_FWDAGENT:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        if (word_index(flag_words, a) >= 0)
            return 0;
        goto agent_path;
    case V_AGENT:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
    agent_path : {
        char *x = NULL, e[ERR_MAX];

        if (sshcfg_expand(a, NULL, 0, true, &x, e) != 0)
            return sshcfg_line_bad(l, "invalid environment expansion '%s': %s",
                                   a, e);
        free(x);
        if (a[0] == '$' && a[1] != '{') {
            const char *p = a + 1;

            if (*p == '\0')
                return sshcfg_line_bad(l, "invalid environment name '%s'", a);
            for (; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_')
                    return sshcfg_line_bad(l, "invalid environment name '%s'",
                                           a);
        }
        return 0;
    }
    case V_SENDENV:
        while ((a = sshcfg_line_next(l)) != NULL)
            if (*a == '\0' || strchr(a, '=') != NULL)
                return sshcfg_line_bad(l, "invalid environment name '%s'", a);
        return 0;
    case V_SETENV:
        while ((a = sshcfg_line_next(l)) != NULL)
            if (strchr(a, '=') == NULL)
                return sshcfg_line_bad(l, "invalid SetEnv '%s'", a);
        return 0;
    case V_CIPHERS:
    case V_MACS:
    case V_KEX:
    case V_KEYS:
    case V_SIGS:
    case V_GSSKEX:
        return sshcfg_check_algs(l, vk, k->arg);
    case V_TRACK:
        break;
    }
    return 0;
}

const struct sshcfg_keyword *sshcfg_keyword_find(const char *name)
{
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strcmp(keywords[i].name, name) == 0)
            return &keywords[i];
    return NULL;
}

int sshcfg_check_flag(struct sshcfg_line *l, int *v)
{
    if (check_words(l, flag_words) != 0)
        return -1;
    *v = word_index(flag_words, l->av.v[l->ai - 1]);
    *v = *v == 0 || *v == 2;
    return 0;
}

int sshcfg_check_state(struct sshcfg_line *l, enum sshcfg_kw kw, int *v)
{
    const char *a = sshcfg_line_next(l);

    if (a == NULL || *a == '\0')
        return sshcfg_line_missing(l);
    if (kw == KW_STRICTHOSTKEYCHECKING)
        WORD_VALUE(strict_words, a, v);
    else if (kw == KW_ADDRESSFAMILY)
        WORD_VALUE(af_words, a, v);
    else
        WORD_VALUE(canon_words, a, v);
    if (*v < 0)
        return sshcfg_line_bad(l, "unsupported value '%s' for '%s'", a,
                               l->keyword);
    return 0;
}

int sshcfg_check_time(struct sshcfg_line *l, int *v)
{
    long t = check_time(l);

    if (t == -2)
        return -1;
    *v = (int)t;
    return 0;
}

int sshcfg_check_int(struct sshcfg_line *l, int *v)
{
    return check_int(l, v);
}
