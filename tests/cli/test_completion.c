// The bash completion and the man page, both generated at build time from the help texts
// (cmake/docs_from_help.cmake): the script parses, completes command names, every command's flags
// (compared with that command's --help, so a stale script fails) and file names for flags that
// take a file; the man page has a section per command.
#include "cli_test.h"

#define COMPLETION DPT_BINARY_DIR "/dptrain.bash"

// The completions bash offers for the words (the last one is being completed), one per line.
static char *complete(const char *words)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && bash -c 'source \"%s\"; COMP_WORDS=(%s); "
             "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _dptrain; "
             "((${#COMPREPLY[@]} == 0)) || printf \"%%s\\n\" \"${COMPREPLY[@]}\"' 2>&1",
             tdir, COMPLETION, words);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    size_t n;
    while ((n = fread(out + len, 1, cap - 1 - len, p)) > 0)
        len += n;
    out[len] = '\0';
    cr_assert_eq(pclose(p), 0, "%s: %s", cmd, out);
    return out;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

Test(cli, bash_completion, CLI_FIXTURE)
{
    cr_assert(file_exists(COMPLETION), "%s was not generated", COMPLETION);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash -n '%s'", COMPLETION);
    cr_assert_eq(system(cmd), 0, "%s does not parse", COMPLETION);

    char *out = complete("dptrain tr");
    cr_expect_str_eq(out, "train\n");
    free(out);
    out = complete("dptrain \"\"");
    cr_expect(has_line(out, "train") && has_line(out, "export") && has_line(out, "version"), "%s",
              out);
    free(out);

    // Every command of `dptrain --help` completes exactly the flags of its own --help.
    struct cli_result r = expect_ok(run("--help", NULL));
    const char *list = strstr(r.out, "commands:\n");
    cr_assert_not_null(list, "%s", r.out);
    size_t n_commands = 0;
    for (const char *line = strchr(list, '\n') + 1; strncmp(line, "  ", 2) == 0 && line[2] != ' ';
         line = strchr(line, '\n') + 1) {
        char name[32];
        cr_assert_eq(sscanf(line, " %31[a-z0-9-]", name), 1);
        struct cli_result h = expect_ok(run(name, "--help", NULL));
        char words[64];
        snprintf(words, sizeof words, "dptrain %s --", name);
        char *got = complete(words);
        size_t n_flags = 0;
        for (const char *p = h.out; (p = strstr(p, "\n  --")) != NULL; p += 3) {
            char flag[64];
            cr_assert_eq(sscanf(p + 3, "%63[a-z0-9-]", flag), 1);
            cr_expect(has_line(got, flag), "%s: %s not completed:\n%s", name, flag, got);
            n_flags++;
        }
        size_t n_got = 0;
        for (const char *p = got; *p; p = strchr(p, '\n') + 1)
            n_got++;
        cr_expect_eq(n_got, n_flags, "%s: completes %zu flags, --help lists %zu:\n%s", name, n_got,
                     n_flags, got);
        free(got);
        result_free(&h);
        n_commands++;
    }
    cr_expect_geq(n_commands, 10u);
    result_free(&r);

    // File names where a flag takes a file, directories for --npy, SPEC prefixes for --data.
    write_text(P("model.st"), "x");
    cr_assert_eq(mkdir(P("npydir"), 0777), 0);
    out = complete("dptrain eval --model mo");
    cr_expect_str_eq(out, "model.st\n");
    free(out);
    out = complete("dptrain info \"\"");
    cr_expect(has_line(out, "model.st"), "%s", out);
    free(out);
    out = complete("dptrain import --npy \"\"");
    cr_expect_str_eq(out, "npydir\n");
    free(out);
    out = complete("dptrain train --data synth:s");
    cr_expect_str_eq(out, "synth:spirals\n");
    free(out);
    out = complete("dptrain train --epochs \"\""); // a number: nothing to offer
    cr_expect_str_eq(out, "");
    free(out);
}

Test(cli, man_page, CLI_FIXTURE)
{
    if (!DPT_HAVE_MANPAGE)
        cr_skip_test("help2man was not found at configure time: no man page");
    char *man = read_text(DPT_BINARY_DIR "/dptrain.1");
    cr_assert_not_null(man);
    cr_expect(strstr(man, ".TH DPTRAIN \"1\""), "%.200s", man);
    cr_expect(strstr(man, ".SS \"dptrain train\""), "no section for train");
    cr_expect(strstr(man, ".SS \"dptrain import\""), "no section for import");
    cr_expect(strstr(man, "\\-\\-schedule"), "train's flags are missing");
    free(man);
}
