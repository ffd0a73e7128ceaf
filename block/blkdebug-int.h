/*
 * blkdebug's QEMU-style rules: inject-error and set-state rules keyed by
 * trace events, a node state (starting at 1), and the active error rules
 * that requests are checked against.  Shared by blkdebug.c (the driver)
 * and blkdebug-rules.c (parsing and matching).
 */
#ifndef BLOCK_BLKDEBUG_INT_H
#define BLOCK_BLKDEBUG_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "qapi/qapi-types-block-core.h"

typedef enum {
    BLKDEBUG_RULE_INJECT_ERROR,
    BLKDEBUG_RULE_SET_STATE,
} BlkdebugRuleKind;

typedef struct BlkdebugRule {
    BlkdebugRuleKind kind;
    BlkdebugEvent event;
    int state;                  /* 0: any state */
    /* inject-error */
    int error;                  /* positive errno */
    int64_t offset;             /* byte offset of the sector, -1: any */
    uint64_t iotype_mask;       /* 1 << BlkdebugIOType */
    bool once;
    /* set-state */
    int new_state;
} BlkdebugRule;

typedef struct BlkdebugRules {
    GMutex lock;
    int state;
    GPtrArray *rules;           /* BlkdebugRule *, in the order defined */
    GPtrArray *active;          /* the inject-error rules armed last */
} BlkdebugRules;

/* Rules from a QEMU config file (may be NULL) and then from the options;
 * 0 or -errno with QEMU's message. */
int blkdebug_rules_init(BlkdebugRules *r, const char *config,
                        BlkdebugInjectErrorOptionsList *inject,
                        BlkdebugSetStateOptionsList *set_state,
                        GError **errp);
void blkdebug_rules_free(BlkdebugRules *r);

/* An event happened at this node: arm its error rules, change state. */
void blkdebug_rules_event(BlkdebugRules *r, BlkdebugEvent event);

/* The error an armed rule gives [offset, offset + bytes) of type, or 0. */
int blkdebug_rules_check(BlkdebugRules *r, int64_t offset, int64_t bytes,
                         BlkdebugIOType type);

/* "blkdebug:CONFIG:IMAGE" into config and image options. */
int blkdebug_parse_filename(const char *filename, JsonObject *obj,
                            GError **errp);

#endif
