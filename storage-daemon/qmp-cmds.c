/*
 * QMP commands about the protocol itself, jobs and objects, and
 * nbd-server-start's nested address.
 */
#include <stdio.h>
#include <string.h>

#include "storage-daemon/daemon.h"
#include "qom/object-add.h"
#include "qemu/error.h"
#include "qemu/job.h"
#include "qapi/qapi-commands-block-export.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-job.h"
#include "qapi/qapi-commands-qom-commands.h"

void qmp_qmp_capabilities(QMPCapabilityList *enable, GError **errp)
{
    for (; enable; enable = enable->next) {
        error_setg(errp, "Capability '%s' not available",
                   QMPCapability_str(enable->value));
        return;
    }
}

VersionInfo *qmp_query_version(GError **errp)
{
    VersionInfo *info = g_new0(VersionInfo, 1);
    unsigned major = 0, minor = 0, micro = 0;

    sscanf(QSD_VERSION, "%u.%u.%u", &major, &minor, &micro);
    info->qemu = g_new0(VersionTriple, 1);
    info->qemu->major = major;
    info->qemu->minor = minor;
    info->qemu->micro = micro;
    info->package = g_strdup("");
    return info;
}

CommandInfoList *qmp_query_commands(GError **errp)
{
    g_auto(GStrv) names = qmp_command_names(qsd_commands());
    CommandInfoList *head = NULL, **tail = &head;

    for (char **n = names; *n; n++) {
        CommandInfoList *e = g_new0(CommandInfoList, 1);
        e->value = g_new0(CommandInfo, 1);
        e->value->name = g_strdup(*n);
        *tail = e;
        tail = &e->next;
    }
    return head;
}

void qmp_quit(GError **errp)
{
    qsd_request_quit();
}

JobInfoList *qmp_query_jobs(GError **errp)
{
    return job_query_all();
}

void qmp_job_dismiss(const char *id, GError **errp)
{
    job_dismiss(id, errp);
}

void qmp_object_add(ObjectOptions *arg, GError **errp)
{
    user_creatable_add(arg, errp);
}

void qmp_object_del(const char *id, GError **errp)
{
    user_creatable_del(id, errp);
}

/*
 * QEMU's nbd-server-start takes the nested address ({"type": "unix",
 * "data": {"path": ...}}), the command line the flat one; the server
 * itself only knows the flat one.  The strings stay the caller's.
 */
static void socket_address_flatten(const SocketAddressLegacy *in,
                                   SocketAddress *out)
{
    out->type = in->type;
    switch (in->type) {
    case SOCKET_ADDRESS_TYPE_INET:
        out->u.inet = *in->u.inet.data;
        break;
    case SOCKET_ADDRESS_TYPE_UNIX:
        out->u.q_unix = *in->u.q_unix.data;
        break;
    case SOCKET_ADDRESS_TYPE_FD:
        out->u.fd = *in->u.fd.data;
        break;
    default:
        g_assert_not_reached();
    }
}

void qmp_nbd_server_start(SocketAddressLegacy *addr, const char *tls_creds,
                          bool has_handshake_max_seconds,
                          uint32_t handshake_max_seconds,
                          bool has_max_connections,
                          uint32_t max_connections, GError **errp)
{
    SocketAddress flat;

    socket_address_flatten(addr, &flat);
    qsd_nbd_server_start(&flat, tls_creds, has_handshake_max_seconds,
                         handshake_max_seconds,
                         has_max_connections ? max_connections : 0, errp);
}

void qmp_job_pause(const char *id, GError **errp)
{
    job_user_pause(id, errp);
}

void qmp_job_resume(const char *id, GError **errp)
{
    job_user_resume(id, errp);
}

void qmp_job_cancel(const char *id, GError **errp)
{
    job_user_cancel(id, errp);
}
