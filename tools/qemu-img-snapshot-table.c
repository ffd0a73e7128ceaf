/*
 * STAND-IN until the merge with branch q-check, whose tools/qemu-img-info.c
 * defines img_dump_snapshot_table() for qemu-img info and snapshot -l:
 * delete this file then.  QEMU's snapshot table: a header line, then one
 * line per snapshot.
 */
#include <inttypes.h>
#include <stdio.h>
#include "tools/tool-util.h"
#include "tools/qemu-img.h"

void img_dump_snapshot_table(SnapshotInfoList *list)
{
    printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
           "VM CLOCK", "ICOUNT");
    for (; list; list = list->next) {
        SnapshotInfo *sn = list->value;
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(sn->date_sec);
        g_autofree char *when = t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S")
                                  : g_strdup("");
        g_autofree char *vm = tool_size_to_str((uint64_t)sn->vm_state_size);
        g_autofree char *ic = sn->has_icount
            ? g_strdup_printf("%" PRId64, sn->icount) : g_strdup("");
        char clk[48];

        snprintf(clk, sizeof(clk), "%02" PRId64 ":%02" PRId64 ":%02" PRId64
                 ".%03" PRId64, sn->vm_clock_sec / 3600,
                 sn->vm_clock_sec / 60 % 60, sn->vm_clock_sec % 60,
                 sn->vm_clock_nsec / 1000000);
        printf("%-9s %-16s %8s%20s%13s%11s\n", sn->id, sn->name, vm, when,
               clk, ic);
    }
}
