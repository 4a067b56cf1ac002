/* The C ABI between voxa-control (the host) and its plugins (shared objects loaded with dlopen RTLD_NOW|RTLD_LOCAL).
 *
 * C only: nothing unwinds across this line. A plugin exports exactly one symbol, voxa_plugin_entry, returning a
 * descriptor in static storage. The host reads abi_major, abi_minor and struct_size *before* calling any other
 * plugin code and refuses the plugin (naming it and the versions) when abi_major differs from
 * VOXA_PLUGIN_ABI_MAJOR or abi_minor is newer than the host's. Every plugin function catches everything and
 * returns 0 or a negative errno; every host function does the same.
 *
 * Life cycle, all on the host's main thread: create -> start -> (reload)* -> stop -> destroy. create() may not
 * call other plugins' services (they may not exist yet); start() may. After stop() returns, the plugin makes no
 * more host calls and the host delivers no more events or timers to it.
 *
 * Strings are NUL-terminated UTF-8. JSON texts are complete JSON documents. Ownership is written beside every
 * pointer. docs/API.md ("Plugins") is the prose version of this file.
 */
#ifndef VOXA_PLUGIN_ABI_H
#define VOXA_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VOXA_PLUGIN_ABI_MAJOR 1u
#define VOXA_PLUGIN_ABI_MINOR 0u
#define VOXA_PLUGIN_ENTRY_SYMBOL "voxa_plugin_entry"

/* Levels of voxa_host.log, the same numbers as the data plane's log levels. */
enum { VOXA_LOG_DEBUG = 0, VOXA_LOG_INFO = 1, VOXA_LOG_WARN = 2, VOXA_LOG_ERROR = 3 };

/* A service a plugin provides (registered with voxa_host.register_service). Called on any thread, concurrently:
 * the provider synchronises itself. `method` and `json_in` are owned by the caller and valid for the call only.
 * On return *json_out is NULL or a buffer from voxa_host.alloc_buffer holding a JSON document, which the host
 * takes over. Returns 0 on success; on failure a negative errno, with *json_out optionally holding
 * {"error":{"code":"...","message":"..."}}:
 *   -ENOENT  no such method or object        -EINVAL  bad input (message says which field and why)
 *   -EPERM   not allowed                      -EAGAIN  not available now (dependency down, draining)
 *   -EEXIST  conflicts with existing state    -EIO     the operation failed (message says why) */
typedef int (*voxa_service_fn)(void *instance, const char *method, const char *json_in, char **json_out);

/* An event delivered to a subscriber, on the host's main thread. `topic` and `json` are owned by the host and
 * valid for the call only. */
typedef void (*voxa_event_fn)(void *subscriber, const char *topic, const char *json);

/* A timer callback, on the host's main thread. */
typedef void (*voxa_timer_fn)(void *arg);

/* Services of the host, given to create(). Owned by the host; valid until the plugin's destroy() returns.
 * Functions marked "any thread" may be called from any thread the plugin owns, concurrently. */
typedef struct voxa_host {
    uint32_t struct_size;       /* sizeof(voxa_host) of the host; fields beyond a plugin's own size are absent */
    uint32_t abi_minor;         /* the host's VOXA_PLUGIN_ABI_MINOR */
    void *ctx;                  /* the host's, per plugin: pass it back unchanged as every function's first argument */

    /* Any thread. Calls `service`.`method` (a plugin's, or the host's own "node" service) with json_in (NULL
     * means "{}"). Returns what the provider returned, or -ENOENT when no such service is registered. *json_out
     * is set to NULL or a buffer the caller frees with free_buffer(). */
    int (*call)(void *ctx, const char *service, const char *method, const char *json_in, char **json_out);

    /* Any thread. A buffer of `bytes` bytes for a service's *json_out (or NULL when out of memory), and its
     * release. The host frees what a service returns; a caller frees what call()/store_*() return. */
    char *(*alloc_buffer)(void *ctx, size_t bytes);
    void (*free_buffer)(void *ctx, char *buffer);

    /* create() or start() only. Makes `service` (a name of [a-z0-9_]{1,32}) callable through call(); the host
     * calls fn(instance, ...) until this plugin's stop() has returned. -EEXIST when the name is taken. */
    int (*register_service)(void *ctx, const char *service, voxa_service_fn fn, void *instance);

    /* Any thread. Queues `json` for every subscriber of `topic` (a dotted name, e.g. "dataplane.session_up");
     * delivery is asynchronous, on the host's main thread, in publication order. -EAGAIN when the queue is full
     * (the event is dropped and counted). */
    int (*publish)(void *ctx, const char *topic, const char *json);
    /* create() or start() only. Subscribes fn(subscriber, ...) to every topic starting with topic_prefix ("" is
     * everything). */
    int (*subscribe)(void *ctx, const char *topic_prefix, voxa_event_fn fn, void *subscriber);

    /* Any thread. The node's SQLite database (WAL; each call is one transaction, durable when it returns): a
     * key-value table private to this plugin. Keys are 1..256 bytes of UTF-8, values JSON documents up to 1 MiB.
     * store_get sets *value_json (free with free_buffer) or returns -ENOENT; store_list sets *json_array_out to
     * [{"key":...,"value":...}, ...] for keys starting with key_prefix, in key order. */
    int (*store_put)(void *ctx, const char *key, const char *value_json);
    int (*store_get)(void *ctx, const char *key, char **value_json);
    int (*store_delete)(void *ctx, const char *key);
    int (*store_list)(void *ctx, const char *key_prefix, char **json_array_out);

    /* Any thread. One JSON log line from this plugin; fields_json is an object merged into the line, or NULL. */
    void (*log)(void *ctx, int level, const char *message, const char *fields_json);

    /* Any thread. Sends one command to the data plane over the shm command ring, as JSON:
     *   {"type":"circuit_policy","hops":3,"n":5,"k":3,"rotation_s":600}  {"type":"drain","deadline_ms":5000}
     *   {"type":"log_level","level":"debug"}  {"type":"shutdown","deadline_ms":5000}
     *   {"type":"peer_remove","node_id":"<64 hex>"}  {"type":"peer_update","descriptors":["<264 hex>", ...]}
 *   {"type":"name_set","name":"<1..253 of [a-z0-9.-]>","node_id":"<64 hex>","expires_s":N}
 *   {"type":"name_remove","name":"..."}         (the name table that the local endpoint's RESOLVE reads)
     * Returns 0 once queued, -EINVAL for a bad command, -EAGAIN when the data plane is down or its ring is full. */
    int (*dataplane_command)(void *ctx, const char *command_json);

    /* create() or start() only: every interval_ms (>= 10) the host calls fn(arg) on its main thread, until
     * timer_cancel() or stop(). *timer_id identifies it. */
    int (*timer_add)(void *ctx, uint32_t interval_ms, voxa_timer_fn fn, void *arg, uint64_t *timer_id);
    int (*timer_cancel)(void *ctx, uint64_t timer_id);
} voxa_host;

/* What a plugin exports, in static storage in the plugin (never freed). */
typedef struct voxa_plugin {
    uint32_t abi_major;         /* VOXA_PLUGIN_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;         /* VOXA_PLUGIN_ABI_MINOR the plugin was built with */
    uint32_t struct_size;       /* sizeof(voxa_plugin) as the plugin was built */
    uint32_t reserved;          /* 0 */
    const char *name;           /* must equal the name it is configured under in settings.json "plugins" */
    const char *version;        /* the plugin's own version */
    const char *description;    /* one line */

    /* Builds the instance from config_json (owned by the host, valid for the call), which is
     *   {"name":..., "config_dir":..., "data_dir":..., "settings":<settings.json, effective>,
     *    "plugin":<settings.json "plugin-settings".<name>, or {}>}
     * Sets *instance (owned by the plugin until destroy). A non-zero return stops the host's start-up, which
     * names the plugin and the error; host->log may say more. `host` stays valid until destroy() returns. */
    int (*create)(const voxa_host *host, const char *config_json, void **instance);
    /* Starts serving (threads, sockets). Non-zero: the host stops start-up, calling stop() and destroy(). */
    int (*start)(void *instance);
    /* Optional (may be NULL): applies a new config_json (same shape as create's) after SIGHUP. Non-zero keeps
     * the old configuration; the host reports the error. */
    int (*reload)(void *instance, const char *config_json);
    /* Stops serving within the deadline the host gives (its drain deadline); never fails. */
    void (*stop)(void *instance);
    /* Frees the instance. */
    void (*destroy)(void *instance);
} voxa_plugin;

typedef const voxa_plugin *(*voxa_plugin_entry_fn)(void);

/* The one exported symbol. */
const voxa_plugin *voxa_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* VOXA_PLUGIN_ABI_H */
