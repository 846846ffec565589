// "Did you mean": the nearest command or flag to a mistyped one, and the names other tools
// (PyTorch, Keras, scikit-learn, FANN) give to dptrain's flags, so that a first try with a familiar
// name is answered with the flag to use instead of a bare "unknown".
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"

// Case-insensitive, with '_' and '-' the same: "Batch_Size" is "batch-size".
static int fold(int c)
{
    return c == '_' ? '-' : tolower(c);
}

static bool same_name(const char *a, const char *b, size_t len_a)
{
    size_t i = 0;
    for (; i < len_a && b[i]; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
    return i == len_a && !b[i];
}

size_t cli_edit_distance(const char *a, size_t la, const char *b)
{
    // Optimal string alignment: insertions, deletions, substitutions and transpositions of two
    // adjacent characters, each 1. Names are short; longer words are far from everything anyway.
    enum { MAX = 64 };
    const size_t lb = strlen(b);
    if (la >= MAX || lb >= MAX)
        return (size_t)-1;
    size_t d[MAX + 1][MAX + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            const int ca = fold((unsigned char)a[i - 1]), cb = fold((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == fold((unsigned char)b[j - 2]) &&
                fold((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

// Whether word (len characters, 3 or more) is a start of name: "--max" for "--max-seconds".
static bool prefix_of(const char *word, size_t len, const char *name)
{
    if (len < 3 || len > strlen(name))
        return false;
    for (size_t i = 0; i < len; i++)
        if (fold((unsigned char)word[i]) != fold((unsigned char)name[i]))
            return false;
    return true;
}

const char *cli_nearest(const char *word, size_t len, const char *const *names, size_t n)
{
    // Close enough: one edit in a short word, two from 6 characters, three from 9 (a typo or two,
    // not a different word).
    const size_t limit = len < 6 ? 1 : len < 9 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        const size_t d = cli_edit_distance(word, len, names[i]);
        if (d <= limit && d < best_d) {
            best = names[i];
            best_d = d;
        }
    }
    if (best)
        return best;
    for (size_t i = 0; i < n; i++) // the shortest name that the word abbreviates
        if (prefix_of(word, len, names[i]) && (!best || strlen(names[i]) < strlen(best)))
            best = names[i];
    return best;
}

// ---- commands ----

static const struct {
    const char *alias, *cmd;
} command_aliases[] = {
    {"fit", "train"},         {"learn", "train"},      {"test", "eval"},
    {"score", "eval"},        {"validate", "eval"},    {"infer", "predict"},
    {"inference", "predict"}, {"classify", "predict"}, {"inspect", "info"},
    {"describe", "info"},     {"show", "info"},        {"summary", "info"},
    {"benchmark", "bench"},   {"sweep", "scale"},      {"scaling", "scale"},
    {"graph", "plot"},        {"curves", "plot"},      {"topology", "topo"},
    {"hwloc", "topo"},        {"-v", "--version"},     {"-help", "--help"},
    {"--usage", "--help"},    {"usage", "help"},
};

const char *cli_suggest_command(const char *word, const char *const *names, size_t n)
{
    for (size_t i = 0; i < sizeof command_aliases / sizeof command_aliases[0]; i++)
        if (same_name(word, command_aliases[i].alias, strlen(word)))
            return command_aliases[i].cmd;
    return word[0] == '-' ? NULL : cli_nearest(word, strlen(word), names, n);
}

// ---- flags ----

// Names other tools use for a flag of dptrain's (a rename; the value means the same or close to
// it). Applies only where the command has the target flag.
static const struct {
    const char *alias, *flag;
} flag_aliases[] = {
    {"batch-size", "batch"},
    {"batchsize", "batch"},
    {"bs", "batch"},
    {"minibatch", "batch"},
    {"mini-batch", "batch"},
    {"batch-sizes", "batch"},
    {"epoch", "epochs"},
    {"n-epochs", "epochs"},
    {"nepochs", "epochs"},
    {"num-epochs", "epochs"},
    {"max-epochs", "epochs"},
    {"max-iter", "epochs"},
    {"iterations", "epochs"},
    {"iters", "epochs"},
    {"num-threads", "threads"},
    {"nthreads", "threads"},
    {"n-threads", "threads"},
    {"jobs", "threads"},
    {"n-jobs", "threads"},
    {"j", "threads"},
    {"workers", "threads"},
    {"num-workers", "threads"},
    {"random-seed", "seed"},
    {"random-state", "seed"},
    {"manual-seed", "seed"},
    {"hidden", "layers"},
    {"hidden-layers", "layers"},
    {"hidden-layer-sizes", "layers"},
    {"hidden-sizes", "layers"},
    {"layer-sizes", "layers"},
    {"arch", "layers"},
    {"architecture", "layers"},
    {"activation", "act"},
    {"activations", "act"},
    {"criterion", "loss"},
    {"loss-fn", "loss"},
    {"objective", "loss"},
    {"early-stopping", "patience"},
    {"early-stop", "patience"},
    {"n-iter-no-change", "patience"},
    {"validation-split", "val-split"},
    {"validation-fraction", "val-split"},
    {"val-frac", "val-split"},
    {"valid-split", "val-split"},
    {"time-limit", "max-seconds"},
    {"timeout", "max-seconds"},
    {"max-time", "max-seconds"},
    {"train-data", "data"},
    {"train", "data"},
    {"dataset", "data"},
    {"input", "data"},
    {"test-data", "test"},
    {"test-set", "test"},
    {"output", "out"},
    {"o", "out"},
    {"output", "save"},
    {"out", "save"},
    {"o", "save"},
    {"save-model", "save"},
    {"model-out", "save"},
    {"load", "init"},
    {"load-model", "init"},
    {"weights", "init"},
    {"pretrained", "init"},
    {"resume-from", "resume"},
    {"restore", "resume"},
    {"log", "log-json"},
    {"log-file", "log-json"},
    {"json-log", "log-json"},
    {"normalise", "normalize"},
    {"normalization", "normalize"},
    {"normalisation", "normalize"},
    {"standardize", "normalize"},
    {"silent", "quiet"},
    {"q", "quiet"},
    {"deterministic", "reproducible"},
    {"model-file", "model"},
};

static bool has_flag(const struct cli_flag *flags, const char *name)
{
    for (const struct cli_flag *f = flags; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return true;
    return false;
}

// A value worth repeating in a suggestion: a plain number (else "X").
static const char *number_or_x(const char *v)
{
    if (!v || !*v || strlen(v) > 24)
        return "X";
    char *end;
    const double x = strtod(v, &end);
    return *end == '\0' && isfinite(x) ? v : "X";
}

static const char *const base_schedules[] = {
    "fixed", "sgd", "normalized", "adagrad", "momentum", "nesterov", "rmsprop", "adam", "adamw"};

// The schedule with key=value set: the number after the first "key=" replaced, or the key added to
// a base schedule without it. Empty when the schedule is too complex to edit (a wrapper without
// the key): the caller says so in words.
static void schedule_with(char *buf, size_t len, const char *sched, const char *key,
                          const char *value)
{
    char pat[16];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *at = strstr(sched, pat);
    while (at && at != sched && at[-1] != ':' && at[-1] != ',')
        at = strstr(at + 1, pat);
    if (at) {
        const char *end = at + strlen(pat) + strcspn(at + strlen(pat), ",)");
        snprintf(buf, len, "%.*s%s%s", (int)(at + strlen(pat) - sched), sched, value, end);
    } else if (!strchr(sched, '(')) {
        snprintf(buf, len, "%s%s%s=%s", sched, strchr(sched, ':') ? "," : ":", key, value);
    } else {
        buf[0] = '\0';
    }
}

// Flags that are schedule keys in dptrain (the rate, weight decay, momentum): the suggestion is a
// --schedule string. Returns false when name is none of them.
static bool schedule_key(char *buf, size_t len, const char *name, size_t nlen, const char *value,
                         const char *given)
{
    static const struct {
        const char *alias, *key;
    } keys[] = {
        {"lr", "lr"},   {"learning-rate", "lr"}, {"learningrate", "lr"}, {"eta", "lr"},
        {"rate", "lr"}, {"step-size", "lr"},     {"weight-decay", "wd"}, {"wd", "wd"},
        {"l2", "wd"},   {"decay", "wd"},         {"momentum", "mu"},     {"mu", "mu"},
    };
    const char *key = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !key; i++)
        if (same_name(name, keys[i].alias, nlen))
            key = keys[i].key;
    if (!key)
        return false;
    const char *sched = given ? given : "adam:lr=1e-3";
    const char *v = number_or_x(value);
    char s[512];
    if (strcmp(key, "mu") == 0) {
        // Momentum is its own schedule (adam's is b1).
        const bool has_mu =
            strncmp(sched, "momentum", 8) == 0 || strncmp(sched, "nesterov", 8) == 0;
        if (has_mu)
            schedule_with(s, sizeof s, sched, "mu", v);
        else
            snprintf(s, sizeof s, "momentum:lr=0.01,mu=%s", v);
    } else {
        schedule_with(s, sizeof s, sched, key, v);
    }
    static const char *const what[] = {"the rate", "weight decay", "momentum"};
    const int k = key[0] == 'l' ? 0 : key[0] == 'w' ? 1 : 2;
    if (s[0])
        snprintf(buf, len, "%s is set in the update schedule; did you mean '--schedule %s'?",
                 what[k], s);
    else
        snprintf(buf, len,
                 "%s is set in the update schedule: add %s=%s to the base schedule in "
                 "--schedule '%s' (docs/schedules.md)",
                 what[k], key, v, sched);
    return true;
}

void cli_suggest_flag(char *buf, size_t len, const char *name, size_t nlen, const char *value,
                      const struct cli_flag *flags, const char *schedule, bool single_dash)
{
    buf[0] = '\0';
    if (has_flag(flags, "schedule") && schedule_key(buf, len, name, nlen, value, schedule))
        return;
    if (has_flag(flags, "schedule") &&
        (same_name(name, "optimizer", nlen) || same_name(name, "optimiser", nlen) ||
         same_name(name, "optim", nlen) || same_name(name, "solver", nlen) ||
         same_name(name, "opt", nlen))) {
        char s[64] = "adam:lr=1e-3";
        for (size_t i = 0; value && i < sizeof base_schedules / sizeof base_schedules[0]; i++)
            if (same_name(value, base_schedules[i], strlen(value)))
                snprintf(s, sizeof s, "%s", base_schedules[i]);
        snprintf(buf, len,
                 "the optimizer and its rate are one --schedule string; did you mean "
                 "'--schedule %s'? (docs/schedules.md)",
                 s);
        return;
    }
    if (has_flag(flags, "schedule") &&
        (same_name(name, "scheduler", nlen) || same_name(name, "lr-scheduler", nlen) ||
         same_name(name, "lr-schedule", nlen))) {
        snprintf(buf, len,
                 "rate schedules wrap the optimizer in --schedule, e.g. "
                 "'--schedule cosine(adam:lr=1e-3),t=5000' (docs/schedules.md)");
        return;
    }
    const char *target = NULL;
    for (size_t i = 0; i < sizeof flag_aliases / sizeof flag_aliases[0] && !target; i++)
        if (same_name(name, flag_aliases[i].alias, nlen) && has_flag(flags, flag_aliases[i].flag))
            target = flag_aliases[i].flag;
    if (!target && !single_dash) {
        const char *names[64];
        size_t n = 0;
        for (const struct cli_flag *f = flags; f->name && n < 64; f++)
            names[n++] = f->name;
        target = cli_nearest(name, nlen, names, n);
    }
    if (!target)
        return;
    bool takes_value = false;
    for (const struct cli_flag *f = flags; f->name; f++)
        if (strcmp(f->name, target) == 0)
            takes_value = f->arg != NULL;
    if (takes_value && value && *value && strlen(value) <= 40 && !strchr(value, '\''))
        snprintf(buf, len, "did you mean '--%s %s'?", target, value);
    else
        snprintf(buf, len, "did you mean '--%s'?", target);
}
