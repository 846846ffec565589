// Checkpoints for `dptrain train`: writing one (a model file whose extras carry the schedule
// state, the best parameters of early stopping, the trainer state and the run's configuration),
// and resuming from one (flags merged with the stored configuration, every contradiction refused,
// then the state restored so the run continues bitwise identically).
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"

// Flags that decide the numbers a run produces: a resumed run must use the checkpoint's values.
// (--epochs may grow, to extend a run; --threads and --grad only matter outside --reproducible;
// placement, engine, output and time-limit flags may change freely.)
static const char *const identity_flags[] = {
    "data",      "test",        "val-split", "layers",    "act",  "loss",
    "reduction", "schedule",    "batch",     "drop-last", "seed", "reproducible",
    "normalize", "target-loss", "patience",  "threads",   "grad", "precision",
};
#define N_IDENTITY (sizeof identity_flags / sizeof identity_flags[0])

// Flags a resumed run inherits when they are not given again, but may change.
static const char *const inherited_flags[] = {"epochs", "engine", "pin"};
#define N_INHERITED (sizeof inherited_flags / sizeof inherited_flags[0])

#define CKPT_VERSION "1"

// ---- writing ----

int cli_checkpoint_write(char *msg, size_t msg_len, const char *path, struct dpt_net *net,
                         struct dpt_schedule *sched, struct dpt_trainer *tr,
                         const struct dpt_model_info *info, const struct cli_flag *flags)
{
    struct dpt_trainer_state s;
    dpt_trainer_get_state(tr, &s);
    enum { MAX_META = 40 };
    const char *keys[MAX_META], *vals[MAX_META];
    char buf[MAX_META][96];
    size_t nm = 0;
#define META(k, ...)                                                                               \
    do {                                                                                           \
        snprintf(buf[nm], sizeof buf[nm], __VA_ARGS__);                                            \
        keys[nm] = (k);                                                                            \
        vals[nm] = buf[nm];                                                                        \
        nm++;                                                                                      \
    } while (0)
    META("ckpt.version", "%s", CKPT_VERSION);
    META("ckpt.epoch", "%" PRIu64, s.epoch);
    META("ckpt.steps", "%" PRIu64, s.steps);
    META("ckpt.next_batch", "%" PRIu64, s.next_batch);
    META("ckpt.epoch_n", "%" PRIu64, s.epoch_n);
    META("ckpt.rng", "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s.rng[0], s.rng[1],
         s.rng[2], s.rng[3]);
    META("ckpt.epoch_correct", "%" PRIu64, s.epoch_correct);
    META("ckpt.epoch_seen", "%" PRIu64, s.epoch_seen);
    META("ckpt.epoch_loss", "%a", s.epoch_loss); // hex float: exact
    META("ckpt.best_val", "%a", s.best_val);
    META("ckpt.since_best", "%" PRIu64, s.since_best);
    META("ckpt.in_epoch", "%d", s.in_epoch);
    META("ckpt.has_best", "%d", s.has_best);
    META("cfg.threads.effective", "%zu", dpt_trainer_threads(tr));
    META("cfg.grad.effective", "%s", dpt_grad_mode_name(dpt_trainer_grad_mode(tr)));
    META("cfg.precision.effective", "%s", dpt_precision_name(dpt_trainer_precision(tr)));
#undef META
    // The configuration: every identity or inherited flag that was given (values kept whole).
    char cfg_keys[N_IDENTITY + N_INHERITED][32];
    for (size_t i = 0; i < N_IDENTITY + N_INHERITED && nm < MAX_META; i++) {
        const char *name = i < N_IDENTITY ? identity_flags[i] : inherited_flags[i - N_IDENTITY];
        const char *v = cli_get(flags, name);
        if (!v)
            continue;
        snprintf(cfg_keys[i], sizeof cfg_keys[i], "cfg.%s", name);
        keys[nm] = cfg_keys[i];
        vals[nm] = v;
        nm++;
    }

    const char *names[2];
    const float *data[2];
    size_t lens[2], nt = 0;
    const size_t sl = dpt_schedule_state_len(sched);
    float *sstate = NULL;
    if (sl > 0) {
        sstate = malloc(sl * sizeof(float));
        if (!sstate) {
            snprintf(msg, msg_len, "out of memory for the optimiser state");
            return CLI_USAGE;
        }
        dpt_schedule_state_save(sched, sstate);
        names[nt] = "opt_state";
        data[nt] = sstate;
        lens[nt++] = sl;
    }
    if (dpt_trainer_best_params(tr)) {
        names[nt] = "best_params";
        data[nt] = dpt_trainer_best_params(tr);
        lens[nt++] = dpt_net_n_params(net);
    }
    struct dpt_model_extra extra = {.n_tensors = nt,
                                    .names = names,
                                    .data = data,
                                    .lens = lens,
                                    .n_meta = nm,
                                    .meta_keys = keys,
                                    .meta_values = vals};
    enum dpt_status st = dpt_model_save_ex(path, net, info, &extra);
    free(sstate);
    if (st == DPT_OK)
        return 0;
    snprintf(msg, msg_len, "%s", dpt_last_error()[0] ? dpt_last_error() : dpt_status_str(st));
    return CLI_USAGE;
}

// ---- resuming ----

static bool is_bool_flag(const struct cli_flag *flags, const char *name)
{
    for (const struct cli_flag *f = flags; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f->arg == NULL;
    return false;
}

static struct cli_flag *flag_slot(struct cli_flag *flags, const char *name)
{
    for (struct cli_flag *f = flags; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int cli_checkpoint_load(const char *path, struct cli_flag *flags, struct cli_checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    dpt_model_extra_out_init(&ck->extra);
    enum dpt_status st = dpt_model_load_ex(path, &ck->net, NULL, &ck->extra);
    if (st != DPT_OK)
        return cli_fail(st, "--resume");
    const char *ver = dpt_model_extra_meta(&ck->extra, "ckpt.version");
    if (!ver)
        return cli_error("--resume: '%s' is a model, not a checkpoint (no training state; use "
                         "--init to start from its parameters)",
                         path);
    if (strcmp(ver, CKPT_VERSION) != 0)
        return cli_error("--resume: '%s': checkpoint version %s is not supported (this dptrain "
                         "writes version %s)",
                         path, ver, CKPT_VERSION);
    const char *eff_threads = dpt_model_extra_meta(&ck->extra, "cfg.threads.effective");
    // Checkpoints written before the gradient modes existed come from private mode.
    const char *eff_grad = dpt_model_extra_meta(&ck->extra, "cfg.grad.effective");
    if (!eff_grad)
        eff_grad = "private";
    // And checkpoints written before --precision existed come from fp32 runs.
    const char *eff_precision = dpt_model_extra_meta(&ck->extra, "cfg.precision.effective");
    if (!eff_precision)
        eff_precision = "fp32";
    const bool repro = dpt_model_extra_meta(&ck->extra, "cfg.reproducible") != NULL;
    // Merge: a flag given now must equal the stored one; a stored one not given now is used.
    for (size_t i = 0; i < N_IDENTITY; i++) {
        const char *name = identity_flags[i];
        char key[40];
        snprintf(key, sizeof key, "cfg.%s", name);
        const char *old = dpt_model_extra_meta(&ck->extra, key);
        struct cli_flag *f = flag_slot(flags, name);
        if (!f)
            continue;
        if (strcmp(name, "threads") == 0) {
            // The thread count actually used decides the shards, unless the run is
            // reproducible: then any thread count gives the same result.
            if (repro)
                continue;
            old = eff_threads;
        }
        if (strcmp(name, "grad") == 0) {
            // Likewise the gradient mode actually used (auto resolves to it again, since every
            // flag it depends on is an identity flag).
            if (repro)
                continue;
            old = eff_grad;
            if (f->value && strcmp(f->value, "auto") == 0)
                f->value = old;
        }
        if (strcmp(name, "precision") == 0)
            old = eff_precision; // given or not, the run's arithmetic (fp32 by default)
        if (f->value && old && strcmp(f->value, old) != 0 && !is_bool_flag(flags, name))
            return cli_error("--%s %s contradicts the checkpoint '%s' (which has --%s %s); "
                             "leave it out to continue that run",
                             name, f->value, path, name, old);
        if (f->value && !old)
            return cli_error("--%s contradicts the checkpoint '%s' (its run did not set it); "
                             "leave it out to continue that run",
                             name, path);
        if (!f->value && old)
            f->value = old; // borrowed from ck->extra, which lives as long as the command
    }
    for (size_t i = 0; i < N_INHERITED; i++) {
        char key[40];
        snprintf(key, sizeof key, "cfg.%s", inherited_flags[i]);
        const char *old = dpt_model_extra_meta(&ck->extra, key);
        struct cli_flag *f = flag_slot(flags, inherited_flags[i]);
        if (f && !f->value && old)
            f->value = old;
    }
    return 0;
}

static int parse_u64(const struct cli_checkpoint *ck, const char *key, uint64_t *out)
{
    const char *v = dpt_model_extra_meta(&ck->extra, key);
    char *end;
    if (!v || !*v)
        return cli_error("--resume: the checkpoint has no '%s'", key);
    // strtoull accepts a sign (-1 is 2^64-1) and saturates on overflow: neither is a counter.
    errno = 0;
    *out = strtoull(v, &end, 10);
    if (*end || !(*v >= '0' && *v <= '9') || errno == ERANGE)
        return cli_error("--resume: the checkpoint's '%s' is not a number from 0 to 2^64-1: '%s'",
                         key, v);
    return 0;
}

static int parse_f64(const struct cli_checkpoint *ck, const char *key, double *out)
{
    const char *v = dpt_model_extra_meta(&ck->extra, key);
    char *end;
    if (!v || !*v)
        return cli_error("--resume: the checkpoint has no '%s'", key);
    *out = strtod(v, &end);
    if (*end)
        return cli_error("--resume: the checkpoint's '%s' is not a number: '%s'", key, v);
    return 0;
}

int cli_checkpoint_restore(const struct cli_checkpoint *ck, struct dpt_net *net,
                           struct dpt_schedule *sched, struct dpt_trainer *tr)
{
    struct dpt_trainer_state s;
    memset(&s, 0, sizeof s);
    uint64_t in_epoch = 0, has_best = 0;
    int rc = parse_u64(ck, "ckpt.epoch", &s.epoch);
    if (!rc)
        rc = parse_u64(ck, "ckpt.steps", &s.steps);
    if (!rc)
        rc = parse_u64(ck, "ckpt.next_batch", &s.next_batch);
    if (!rc)
        rc = parse_u64(ck, "ckpt.epoch_n", &s.epoch_n);
    if (!rc)
        rc = parse_u64(ck, "ckpt.epoch_correct", &s.epoch_correct);
    if (!rc)
        rc = parse_u64(ck, "ckpt.epoch_seen", &s.epoch_seen);
    if (!rc)
        rc = parse_u64(ck, "ckpt.since_best", &s.since_best);
    if (!rc)
        rc = parse_u64(ck, "ckpt.in_epoch", &in_epoch);
    if (!rc)
        rc = parse_u64(ck, "ckpt.has_best", &has_best);
    if (!rc)
        rc = parse_f64(ck, "ckpt.epoch_loss", &s.epoch_loss);
    if (!rc)
        rc = parse_f64(ck, "ckpt.best_val", &s.best_val);
    if (rc)
        return rc;
    s.in_epoch = in_epoch != 0;
    s.has_best = has_best != 0;
    const char *rng = dpt_model_extra_meta(&ck->extra, "ckpt.rng");
    if (!rng || strlen(rng) != 64)
        return cli_error("--resume: the checkpoint's 'ckpt.rng' is missing or malformed");
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, rng + 16 * i, 16);
        part[16] = '\0';
        char *end;
        s.rng[i] = strtoull(part, &end, 16);
        if (*end)
            return cli_error("--resume: the checkpoint's 'ckpt.rng' is malformed");
    }

    // The network: the spec was rebuilt from the same flags, so the shapes must agree.
    const size_t np = dpt_net_n_params(net);
    if (dpt_net_n_params(ck->net) != np)
        return cli_error("--resume: the checkpoint's network does not match --layers");
    memcpy(dpt_net_params(net), dpt_net_params_const(ck->net), np * sizeof(float));
    size_t len = 0;
    const float *opt = dpt_model_extra_tensor(&ck->extra, "opt_state", &len);
    const size_t want = dpt_schedule_state_len(sched);
    if ((opt ? len : 0) != want)
        return cli_error("--resume: the checkpoint holds %zu floats of schedule state, the "
                         "schedule needs %zu",
                         opt ? len : 0, want);
    if (want)
        dpt_schedule_state_load(sched, opt);
    const float *best = dpt_model_extra_tensor(&ck->extra, "best_params", &len);
    enum dpt_status st;
    if (best && (st = dpt_trainer_set_best_params(tr, best, len)) != DPT_OK)
        return cli_fail(st, "--resume");
    if ((st = dpt_trainer_set_state(tr, &s)) != DPT_OK)
        return cli_fail(st, "--resume");
    return 0;
}

void cli_checkpoint_cleanup(struct cli_checkpoint *ck)
{
    dpt_net_destroy(ck->net);
    ck->net = NULL;
    dpt_model_extra_out_cleanup(&ck->extra);
}
