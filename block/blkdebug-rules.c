/*
 * blkdebug's QEMU-style rules: the config file, the inject-error and
 * set-state options, what an event does to them, and which request an
 * armed rule fails.  The semantics are QEMU's:
 *
 * - the node starts in state 1; a rule with state 0 applies in any state;
 * - when an event happens, the rules for it that apply in the current
 *   state run: set-state rules set the state the node is in afterwards,
 *   and if any inject-error rule runs, those rules replace the armed ones;
 * - a request of an armed rule's I/O types that covers its sector (any
 *   request without a sector) fails with its errno, the first armed rule
 *   deciding; a rule with once is dropped when it fires.
 *
 * Rules for one event run newest first, and all inject-error rules (the
 * config file's, then the options') count as older than the set-state
 * rules, as QEMU lists them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "block/blkdebug-int.h"
#include "qemu/error.h"
#include "qapi/util.h"

#define BLKDEBUG_SECTOR 512

/* What one rule says, before it is checked: strings as QemuOpts has them,
 * or the typed values of the options. */
typedef struct RuleSpec {
    BlkdebugRuleKind kind;
    const char *event, *iotype;
    bool has_state, has_errno, has_sector, has_new_state;
    int64_t state, errno_val, sector, new_state;
    bool once;
} RuleSpec;

static uint64_t all_io_types(void)
{
    /* QEMU's default: every type but block-status */
    return ((1ull << BLKDEBUG_IO_TYPE__MAX) - 1) &
           ~(1ull << BLKDEBUG_IO_TYPE_BLOCK_STATUS);
}

static int add_rule(BlkdebugRules *r, const RuleSpec *sp, GError **errp)
{
    BlkdebugRule *rule;
    int event, type = -1;

    if (!sp->event) {
        error_setg(errp, "Missing event name for rule");
        return -EINVAL;
    }
    event = qapi_enum_parse(&BlkdebugEvent_lookup, sp->event, -1, NULL);
    if (event < 0) {
        error_setg(errp, "invalid parameter value: %s", sp->event);
        return -EINVAL;
    }
    if (sp->iotype) {
        type = qapi_enum_parse(&BlkdebugIOType_lookup, sp->iotype, -1, NULL);
        if (type < 0) {
            error_setg(errp, "invalid parameter value: %s", sp->iotype);
            return -EINVAL;
        }
    }
    rule = g_new0(BlkdebugRule, 1);
    rule->kind = sp->kind;
    rule->event = event;
    rule->state = sp->has_state ? (int)sp->state : 0;
    rule->error = sp->has_errno ? (int)sp->errno_val : EIO;
    rule->offset = sp->has_sector && sp->sector >= 0
                   ? sp->sector * BLKDEBUG_SECTOR : -1;
    rule->iotype_mask = type >= 0 ? 1ull << type : all_io_types();
    rule->once = sp->once;
    rule->new_state = sp->has_new_state ? (int)sp->new_state : 0;
    g_ptr_array_add(r->rules, rule);
    return 0;
}

/* ---- the config file (QEMU's -readconfig syntax) ---- */

static bool parse_number(const char *key, const char *v, int64_t *out,
                         GError **errp)
{
    char *end;

    errno = 0;
    *out = g_ascii_strtoll(v, &end, 0);
    if (!*v || *end || errno) {
        error_setg(errp, "Parameter '%s' expects a number", key);
        return false;
    }
    return true;
}

static bool parse_bool(const char *key, const char *v, bool *out,
                       GError **errp)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") ||
        !strcmp(v, "y")) {
        *out = true;
    } else if (!strcmp(v, "off") || !strcmp(v, "no") ||
               !strcmp(v, "false") || !strcmp(v, "n")) {
        *out = false;
    } else {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    return true;
}

/* One "key = value" of a section into sp; v stays owned by the caller. */
static bool spec_set(RuleSpec *sp, const char *key, const char *v,
                     GError **errp)
{
    bool inject = sp->kind == BLKDEBUG_RULE_INJECT_ERROR;
    bool dummy;

    if (!strcmp(key, "event")) {
        sp->event = v;
    } else if (!strcmp(key, "state")) {
        sp->has_state = parse_number(key, v, &sp->state, errp);
        return sp->has_state;
    } else if (inject && !strcmp(key, "iotype")) {
        sp->iotype = v;
    } else if (inject && !strcmp(key, "errno")) {
        sp->has_errno = parse_number(key, v, &sp->errno_val, errp);
        return sp->has_errno;
    } else if (inject && !strcmp(key, "sector")) {
        sp->has_sector = parse_number(key, v, &sp->sector, errp);
        return sp->has_sector;
    } else if (inject && !strcmp(key, "once")) {
        return parse_bool(key, v, &sp->once, errp);
    } else if (inject && !strcmp(key, "immediately")) {
        return parse_bool(key, v, &dummy, errp);  /* no yield here anyway */
    } else if (!inject && !strcmp(key, "new_state")) {
        sp->has_new_state = parse_number(key, v, &sp->new_state, errp);
        return sp->has_new_state;
    } else {
        error_setg(errp, "Invalid parameter '%s'", key);
        return false;
    }
    return true;
}

typedef struct Section {
    RuleSpec spec;
    GPtrArray *values;          /* the strings spec points to */
} Section;

static void section_free(gpointer p)
{
    Section *sec = p;

    g_ptr_array_unref(sec->values);
    g_free(sec);
}

/* "[group]" or "[group "id"]": a new section, or NULL after an error. */
static Section *parse_group(const char *line, GError **errp)
{
    g_autofree char *name = g_strndup(line + 1, strcspn(line + 1, " \"]"));
    Section *sec;

    if (strcmp(name, "inject-error") && strcmp(name, "set-state")) {
        error_setg(errp, "There is no option group '%s'", name);
        return NULL;
    }
    sec = g_new0(Section, 1);
    sec->spec.kind = strcmp(name, "set-state") ? BLKDEBUG_RULE_INJECT_ERROR
                                               : BLKDEBUG_RULE_SET_STATE;
    sec->values = g_ptr_array_new_with_free_func(g_free);
    return sec;
}

/* `key = "value"` into the current section. */
static bool parse_assignment(Section *sec, const char *line, GError **errp)
{
    char key[64], value[1024];

    if (!sec) {
        error_setg(errp, "no group defined");
        return false;
    }
    if (sscanf(line, " %63[^= \t] = \"%1023[^\"]\"", key, value) != 2) {
        if (sscanf(line, " %63[^= \t] = \"\"", key) != 1) {
            error_setg(errp, "parse error");
            return false;
        }
        value[0] = '\0';
    }
    g_ptr_array_add(sec->values, g_strdup(value));
    return spec_set(&sec->spec, key,
                    g_ptr_array_index(sec->values, sec->values->len - 1),
                    errp);
}

/* The sections of a config file, in file order, into *out. */
static int read_config(const char *path, GPtrArray *out, GError **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *local = NULL;
    Section *cur = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        error_setg(errp, "Could not read blkdebug config file: %s",
                   g_strerror(local->domain == G_FILE_ERROR &&
                              local->code == G_FILE_ERROR_NOENT
                              ? ENOENT : EIO));
        g_error_free(local);
        return -EINVAL;
    }
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        const char *l = lines[i] + strspn(lines[i], " \t");

        if (!*l || *l == '#' || *l == '\r') {
            continue;
        }
        if (*l == '[') {
            cur = parse_group(l, errp);
            if (!cur) {
                return -EINVAL;
            }
            g_ptr_array_add(out, cur);
        } else if (!parse_assignment(cur, l, errp)) {
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- setup ---- */

static void spec_from_inject(RuleSpec *sp, BlkdebugInjectErrorOptions *o)
{
    *sp = (RuleSpec) {
        .kind = BLKDEBUG_RULE_INJECT_ERROR, .event = o->event,
        .iotype = o->iotype, .has_state = o->has_state, .state = o->state,
        .has_errno = o->has_q_errno, .errno_val = o->q_errno,
        .has_sector = o->has_sector, .sector = o->sector,
        .once = o->has_once && o->once,
    };
}

static void spec_from_set_state(RuleSpec *sp, BlkdebugSetStateOptions *o)
{
    *sp = (RuleSpec) {
        .kind = BLKDEBUG_RULE_SET_STATE, .event = o->event,
        .has_state = o->has_state, .state = o->state,
        .has_new_state = o->has_new_state, .new_state = o->new_state,
    };
}

/* The rules of one kind: the config file's sections, then the options. */
static int add_kind(BlkdebugRules *r, BlkdebugRuleKind kind,
                    GPtrArray *sections,
                    BlkdebugInjectErrorOptionsList *inject,
                    BlkdebugSetStateOptionsList *set_state, GError **errp)
{
    RuleSpec sp;

    for (guint i = 0; i < sections->len; i++) {
        Section *sec = g_ptr_array_index(sections, i);

        if (sec->spec.kind == kind && add_rule(r, &sec->spec, errp) < 0) {
            return -EINVAL;
        }
    }
    for (; kind == BLKDEBUG_RULE_INJECT_ERROR && inject; inject = inject->next) {
        spec_from_inject(&sp, inject->value);
        if (add_rule(r, &sp, errp) < 0) {
            return -EINVAL;
        }
    }
    for (; kind == BLKDEBUG_RULE_SET_STATE && set_state;
         set_state = set_state->next) {
        spec_from_set_state(&sp, set_state->value);
        if (add_rule(r, &sp, errp) < 0) {
            return -EINVAL;
        }
    }
    return 0;
}

int blkdebug_rules_init(BlkdebugRules *r, const char *config,
                        BlkdebugInjectErrorOptionsList *inject,
                        BlkdebugSetStateOptionsList *set_state,
                        GError **errp)
{
    g_autoptr(GPtrArray) sections =
        g_ptr_array_new_with_free_func(section_free);

    g_mutex_init(&r->lock);
    r->state = 1;
    r->rules = g_ptr_array_new_with_free_func(g_free);
    r->active = g_ptr_array_new();
    if ((config && read_config(config, sections, errp) < 0) ||
        add_kind(r, BLKDEBUG_RULE_INJECT_ERROR, sections, inject, NULL,
                 errp) < 0 ||
        add_kind(r, BLKDEBUG_RULE_SET_STATE, sections, NULL, set_state,
                 errp) < 0) {
        blkdebug_rules_free(r);
        return -EINVAL;
    }
    return 0;
}

void blkdebug_rules_free(BlkdebugRules *r)
{
    if (r->rules) {
        g_ptr_array_unref(r->active);
        g_ptr_array_unref(r->rules);
        r->rules = r->active = NULL;
        g_mutex_clear(&r->lock);
    }
}

/* ---- events and requests ---- */

void blkdebug_rules_event(BlkdebugRules *r, BlkdebugEvent event)
{
    int new_state, armed = 0;

    g_mutex_lock(&r->lock);
    new_state = r->state;
    for (guint i = r->rules->len; i-- > 0;) {
        BlkdebugRule *rule = g_ptr_array_index(r->rules, i);

        if (rule->event != event ||
            (rule->state && rule->state != r->state)) {
            continue;
        }
        if (rule->kind == BLKDEBUG_RULE_SET_STATE) {
            new_state = rule->new_state;
            continue;
        }
        if (armed++ == 0) {
            g_ptr_array_set_size(r->active, 0);
        }
        g_ptr_array_insert(r->active, 0, rule);
    }
    r->state = new_state;
    g_mutex_unlock(&r->lock);
}

int blkdebug_rules_check(BlkdebugRules *r, int64_t offset, int64_t bytes,
                         BlkdebugIOType type)
{
    BlkdebugRule *rule = NULL;
    int error = 0;

    g_mutex_lock(&r->lock);
    for (guint i = 0; i < r->active->len; i++) {
        BlkdebugRule *a = g_ptr_array_index(r->active, i);

        if ((a->offset == -1 ||
             (bytes && a->offset >= offset && a->offset < offset + bytes)) &&
            (a->iotype_mask & (1ull << type))) {
            rule = a;
            break;
        }
    }
    if (rule) {
        error = rule->error;
        if (error && rule->once) {
            g_ptr_array_remove(r->active, rule);
            g_ptr_array_remove(r->rules, rule);     /* frees it */
        }
    }
    g_mutex_unlock(&r->lock);
    return error ? -error : 0;
}

int blkdebug_parse_filename(const char *filename, JsonObject *obj,
                            GError **errp)
{
    const char *rest, *colon;
    JsonObject *image;

    if (!g_str_has_prefix(filename, "blkdebug:")) {
        error_setg(errp, "File name string must start with 'blkdebug:'");
        return -EINVAL;
    }
    rest = filename + strlen("blkdebug:");
    colon = strchr(rest, ':');
    if (!colon) {
        error_setg(errp, "blkdebug requires both config file and image path");
        return -EINVAL;
    }
    if (colon > rest) {
        g_autofree char *config = g_strndup(rest, colon - rest);

        json_object_set_string_member(obj, "config", config);
    }
    image = json_object_new();
    json_object_set_string_member(image, "filename", colon + 1);
    json_object_set_object_member(obj, "image", image);
    return 0;
}
