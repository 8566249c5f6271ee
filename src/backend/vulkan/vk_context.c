/* vk_context.c - the Vulkan layer under the backend (vk_context.h): loader, devices, memory, pipelines,
 * pipeline cache, dispatch.
 *
 * The loader is opened once per process and never closed: drivers register process-wide state (LLVM in
 * lavapipe, for one) that does not survive being unloaded and loaded again. The device list is probed once
 * per process too (its instance is kept, see rk__vk_probe_run): probing runs every time a runtime picks its
 * backend, and a fresh instance costs milliseconds (tens on lavapipe), while the set of devices does not
 * change under a running process.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/vulkan/vk_context.h"
#include "core/internal.h"

/* ---- Loader ------------------------------------------------------------------------------------------ */

typedef struct rk__vk_loader {
    void *lib;
    PFN_vkGetInstanceProcAddr gipa;
    PFN_vkEnumerateInstanceVersion enumerate_version; /* NULL on a Vulkan 1.0 loader */
    RK__VK_GLOBAL_FNS(RK__VK_FN_FIELD)
    char why[256];                                    /* why lib is NULL */
} rk__vk_loader;

static rk__vk_loader rk__vk_lib;
static pthread_once_t rk__vk_lib_once = PTHREAD_ONCE_INIT;

static void rk__vk_lib_open(void)
{
    const char *path = getenv("RK_VK_LOADER");
    const char *name = path != NULL && path[0] != '\0' ? path : "libvulkan.so.1";
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);

    if (lib == NULL) {
        snprintf(rk__vk_lib.why, sizeof rk__vk_lib.why, "no Vulkan loader (%s not found)", name);
        return;
    }
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
    *(void **)&rk__vk_lib.gipa = dlsym(lib, "vkGetInstanceProcAddr");
    if (rk__vk_lib.gipa == NULL) {
        snprintf(rk__vk_lib.why, sizeof rk__vk_lib.why, "no Vulkan loader (%s has no vkGetInstanceProcAddr)", name);
        dlclose(lib);
        return;
    }
#define RK__VK_LOAD_GLOBAL(fn) rk__vk_lib.fn = (PFN_##fn)rk__vk_lib.gipa(VK_NULL_HANDLE, #fn);
    RK__VK_GLOBAL_FNS(RK__VK_LOAD_GLOBAL)
#undef RK__VK_LOAD_GLOBAL
    rk__vk_lib.enumerate_version =
        (PFN_vkEnumerateInstanceVersion)rk__vk_lib.gipa(VK_NULL_HANDLE, "vkEnumerateInstanceVersion");
    if (rk__vk_lib.vkCreateInstance == NULL || rk__vk_lib.vkEnumerateInstanceLayerProperties == NULL) {
        snprintf(rk__vk_lib.why, sizeof rk__vk_lib.why, "no Vulkan loader (%s lacks vkCreateInstance)", name);
        dlclose(lib);
        return;
    }
    rk__vk_lib.lib = lib;
}

/* The loader, or NULL with the reason in *why. */
static const rk__vk_loader *rk__vk_loader_get(const char **why)
{
    pthread_once(&rk__vk_lib_once, rk__vk_lib_open);
    if (rk__vk_lib.lib == NULL) {
        if (why != NULL)
            *why = rk__vk_lib.why;
        return NULL;
    }
    return &rk__vk_lib;
}

/* ---- Errors ------------------------------------------------------------------------------------------ */

const char *rk__vk_result_name(VkResult r)
{
    switch (r) {
#define RK__VK_RESULT(name)                                                                               \
    case name:                                                                                            \
        return #name;
        RK__VK_RESULT(VK_SUCCESS)
        RK__VK_RESULT(VK_NOT_READY)
        RK__VK_RESULT(VK_TIMEOUT)
        RK__VK_RESULT(VK_INCOMPLETE)
        RK__VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
        RK__VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        RK__VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
        RK__VK_RESULT(VK_ERROR_DEVICE_LOST)
        RK__VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
        RK__VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
        RK__VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
        RK__VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
        RK__VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
        RK__VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
        RK__VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
        RK__VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
        RK__VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
        RK__VK_RESULT(VK_ERROR_INVALID_SHADER_NV)
#undef RK__VK_RESULT
    default:
        return "VK_ERROR_UNKNOWN";
    }
}

int rk__vk_fail(VkResult r, const char *call)
{
    /* The call as written (`c->vkCreateBuffer(c->device, ...)`): name only the function. */
    const char *fn = strstr(call, "vk");
    int len = fn != NULL ? (int)strcspn(fn, "(") : 0;
    int code;

    if (fn == NULL)
        fn = call;
    switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
        code = RK_ENOMEM;
        break;
    case VK_ERROR_DEVICE_LOST:
        code = RK_EFAULT;
        break;
    case VK_TIMEOUT:
        code = RK_ENOTRESPONDING;
        break;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
    case VK_ERROR_INITIALIZATION_FAILED:
        code = RK_ENODEV;
        break;
    default:
        code = RK_EBACKEND;
        break;
    }
    return rk__err(code, "Vulkan: %.*s failed: %s (%d)", len > 0 ? len : (int)strlen(fn), fn, rk__vk_result_name(r),
                   (int)r);
}

/* ---- Validation messages ------------------------------------------------------------------------------- */

static _Atomic uint64_t rk__vk_val_errors, rk__vk_val_warnings;

void rk__vk_validation_counts(uint64_t *errors, uint64_t *warnings)
{
    /* Relaxed: counters, read after the work that produced the messages was waited for. */
    if (errors != NULL)
        *errors = atomic_load_explicit(&rk__vk_val_errors, memory_order_relaxed);
    if (warnings != NULL)
        *warnings = atomic_load_explicit(&rk__vk_val_warnings, memory_order_relaxed);
}

/* Counts and prints every warning and error the validation layer reports. The prefix is what the CTest
 * registration of the Vulkan tests fails on (FAIL_REGULAR_EXPRESSION), so a test that cannot look at the
 * counters still fails on a validation message. */
static VKAPI_ATTR VkBool32 VKAPI_CALL rk__vk_on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT types,
                                                        const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                        void *arg)
{
    int error = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) != 0;

    (void)types;
    (void)arg;
    atomic_fetch_add_explicit(error ? &rk__vk_val_errors : &rk__vk_val_warnings, 1, memory_order_relaxed);
    fprintf(stderr, "rk-vulkan-validation %s: %s\n", error ? "error" : "warning",
            data != NULL && data->pMessage != NULL ? data->pMessage : "(no message)");
    return VK_FALSE; /* never abort the call */
}

/* ---- Instances and devices ----------------------------------------------------------------------------- */

static int rk__vk_layer_present(const rk__vk_loader *l, const char *name)
{
    VkLayerProperties *props;
    uint32_t n = 0;
    int found = 0;

    if (l->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    props = calloc(n, sizeof *props);
    if (props == NULL)
        return 0;
    if (l->vkEnumerateInstanceLayerProperties(&n, props) >= VK_SUCCESS) /* VK_INCOMPLETE: the first n */
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(props[i].layerName, name) == 0;
    free(props);
    return found;
}

/* Creates an instance (Vulkan 1.1 when the loader has it, for vkGetPhysicalDeviceProperties2) and fetches
 * its entry points. validation: 1 to enable the validation layer; *validation_on says whether it was. */
static int rk__vk_instance_create(const rk__vk_loader *l, int validation, VkInstance *out, rk__vk_ifns *f,
                                  int *validation_on)
{
    static const char *const layer = "VK_LAYER_KHRONOS_validation";
    static const char *const ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    uint32_t version = VK_API_VERSION_1_0;
    VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "ringkernel",
                              .pEngineName = "ringkernel" };
    VkInstanceCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app };
    VkInstance inst;
    int rc;

    if (l->enumerate_version != NULL && l->enumerate_version(&version) != VK_SUCCESS)
        version = VK_API_VERSION_1_0;
    app.apiVersion = version >= VK_API_VERSION_1_1 ? VK_API_VERSION_1_1 : VK_API_VERSION_1_0;
    *validation_on = validation && rk__vk_layer_present(l, layer);
    if (*validation_on) {
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = &layer;
        ci.enabledExtensionCount = 1; /* the validation layer implements it */
        ci.ppEnabledExtensionNames = &ext;
    }
    RK__VK_CHECK(l->vkCreateInstance(&ci, NULL, &inst), fail);
#define RK__VK_LOAD_INSTANCE(fn) f->fn = (PFN_##fn)l->gipa(inst, #fn);
    RK__VK_INSTANCE_FNS(RK__VK_LOAD_INSTANCE)
#undef RK__VK_LOAD_INSTANCE
    f->vkGetPhysicalDeviceProperties2 = app.apiVersion >= VK_API_VERSION_1_1
        ? (PFN_vkGetPhysicalDeviceProperties2)l->gipa(inst, "vkGetPhysicalDeviceProperties2") : NULL;
    f->vkGetPhysicalDeviceFeatures2 = app.apiVersion >= VK_API_VERSION_1_1
        ? (PFN_vkGetPhysicalDeviceFeatures2)l->gipa(inst, "vkGetPhysicalDeviceFeatures2") : NULL;
    if (f->vkDestroyInstance == NULL || f->vkEnumeratePhysicalDevices == NULL || f->vkCreateDevice == NULL ||
        f->vkGetDeviceProcAddr == NULL) {
        if (f->vkDestroyInstance != NULL)
            f->vkDestroyInstance(inst, NULL);
        return rk__err(RK_EBACKEND, "Vulkan: the loader returned an instance without its core entry points");
    }
    *out = inst;
    return 0;
fail:
    return rc;
}

const char *rk__vk_type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return "CPU";
    default:
        return "other";
    }
}

/* Preference rank of a device type (lower is better). */
static int rk__vk_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return 3;
    default:
        return 4;
    }
}

static void rk__vk_describe(const rk__vk_ifns *f, VkPhysicalDevice pd, uint32_t index, rk__vk_device_desc *d)
{
    VkPhysicalDeviceProperties p;
    VkPhysicalDeviceMemoryProperties m;

    memset(d, 0, sizeof *d);
    f->vkGetPhysicalDeviceProperties(pd, &p);
    f->vkGetPhysicalDeviceMemoryProperties(pd, &m);
    rk__strlcpy(d->name, p.deviceName, sizeof d->name);
    d->type = p.deviceType;
    d->vendor_id = p.vendorID;
    d->device_id = p.deviceID;
    d->driver_version = p.driverVersion;
    d->api_version = p.apiVersion;
    d->enum_index = index;
    for (uint32_t i = 0; i < m.memoryHeapCount; i++)
        if ((m.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && m.memoryHeaps[i].size > d->memory_bytes)
            d->memory_bytes = m.memoryHeaps[i].size;
    snprintf(d->driver, sizeof d->driver, "vendor 0x%04x, driver 0x%08x", p.vendorID, p.driverVersion);
    if (f->vkGetPhysicalDeviceProperties2 != NULL && p.apiVersion >= VK_API_VERSION_1_2) {
        /* The driver's own name and version string (core in 1.2): "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)". */
        VkPhysicalDeviceDriverProperties drv = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
        VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv };

        f->vkGetPhysicalDeviceProperties2(pd, &p2);
        if (drv.driverName[0] != '\0')
            snprintf(d->driver, sizeof d->driver, "%.24s %.38s", drv.driverName, drv.driverInfo);
    }
}

/* Enumerates inst's devices in preference order: out[i] is the i-th preferred, pds[i] its handle.
 * Returns the count (at most RK__VK_MAX_DEVICES) or RK_E*. */
static int rk__vk_enumerate(const rk__vk_ifns *f, VkInstance inst, rk__vk_device_desc *out, VkPhysicalDevice *pds)
{
    VkPhysicalDevice all[RK__VK_MAX_DEVICES];
    uint32_t n = RK__VK_MAX_DEVICES;
    VkResult r = f->vkEnumeratePhysicalDevices(inst, &n, all);

    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        return rk__vk_fail(r, "vkEnumeratePhysicalDevices");
    for (uint32_t i = 0; i < n; i++) {
        rk__vk_device_desc d;
        uint32_t j = i;

        rk__vk_describe(f, all[i], i, &d);
        /* Insertion sort by rank; stable, so the driver's order holds within a rank. */
        while (j > 0 && rk__vk_rank(out[j - 1].type) > rk__vk_rank(d.type)) {
            out[j] = out[j - 1];
            pds[j] = pds[j - 1];
            j--;
        }
        out[j] = d;
        pds[j] = all[i];
    }
    return (int)n;
}

static struct {
    int count;       /* devices, or a negative RK_E* */
    char why[256];   /* why count is 0 or negative */
    rk__vk_device_desc dev[RK__VK_MAX_DEVICES];
} rk__vk_probe_result;
static pthread_once_t rk__vk_probe_once = PTHREAD_ONCE_INIT;

static void rk__vk_probe_run(void)
{
    const rk__vk_loader *l;
    const char *why = NULL;
    VkPhysicalDevice pds[RK__VK_MAX_DEVICES];
    VkInstance inst;
    rk__vk_ifns f;
    int on, n;

    if ((l = rk__vk_loader_get(&why)) == NULL) {
        rk__vk_probe_result.count = RK_ENODEV;
        rk__strlcpy(rk__vk_probe_result.why, why, sizeof rk__vk_probe_result.why);
        return;
    }
    /* The probe's instance is kept for the life of the process, like the loader: while an instance lives
     * the loader keeps the drivers loaded, so every later runtime finds them initialised, and their
     * process-wide allocations stay reachable (when the loader unloads lavapipe at the last instance's
     * destruction, LeakSanitizer reports them as leaked from an unknown module). */
    if ((n = rk__vk_instance_create(l, 0, &inst, &f, &on)) == 0) {
        n = rk__vk_enumerate(&f, inst, rk__vk_probe_result.dev, pds);
        if (n < 0)
            f.vkDestroyInstance(inst, NULL);
    }
    if (n < 0) {
        rk__vk_probe_result.count = RK_ENODEV;
        snprintf(rk__vk_probe_result.why, sizeof rk__vk_probe_result.why, "no usable Vulkan driver: %s",
                 rk_last_error());
        return;
    }
    rk__vk_probe_result.count = n;
    if (n == 0)
        rk__strlcpy(rk__vk_probe_result.why, "no Vulkan device (the loader found no driver that reports one)",
                    sizeof rk__vk_probe_result.why);
}

int rk__vk_devices(rk__vk_device_desc *out, int max, const char **why)
{
    int n;

    pthread_once(&rk__vk_probe_once, rk__vk_probe_run);
    n = rk__vk_probe_result.count;
    if (n <= 0) {
        if (why != NULL)
            *why = rk__vk_probe_result.why;
        return n < 0 ? rk__err(n, "%s", rk__vk_probe_result.why) : 0;
    }
    for (int i = 0; i < n && i < max; i++)
        out[i] = rk__vk_probe_result.dev[i];
    return n < max ? n : max;
}

/* ---- Pipeline cache ------------------------------------------------------------------------------------ */

/* mkdir -p for the two levels we create at most ($XDG_CACHE_HOME or ~/.cache, then ringkernel). */
static int rk__vk_mkdirs(char *path)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Fills c->cache_path: <dir>/vk-pipeline-<vendor>-<device>-<driver>.bin, "" when there is no directory. */
static void rk__vk_cache_path(rk__vk_ctx *c, const char *dir_opt)
{
    const char *env = getenv("RK_VK_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[400];

    c->cache_path[0] = '\0';
    if (dir_opt != NULL && dir_opt[0] != '\0')
        snprintf(dir, sizeof dir, "%s", dir_opt);
    else if (env != NULL && env[0] != '\0')
        snprintf(dir, sizeof dir, "%s", env);
    else if (xdg != NULL && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/ringkernel", xdg);
    else if (home != NULL && home[0] == '/')
        snprintf(dir, sizeof dir, "%s/.cache/ringkernel", home);
    else
        return;
    if (rk__vk_mkdirs(dir) != 0)
        return; /* not fatal: the pipelines are built, just not remembered */
    snprintf(c->cache_path, sizeof c->cache_path, "%s/vk-pipeline-%04x-%04x-%08x.bin", dir, c->props.vendorID,
             c->props.deviceID, c->props.driverVersion);
}

/* Reads the cache file if its header (VkPipelineCacheHeaderVersionOne) names this device and driver build.
 * Returns a malloc'ed buffer with *len bytes, or NULL (no file, unreadable, or rejected). */
static void *rk__vk_cache_read(rk__vk_ctx *c, size_t *len)
{
    FILE *f = c->cache_path[0] != '\0' ? fopen(c->cache_path, "rb") : NULL;
    VkPipelineCacheHeaderVersionOne h;
    uint8_t *data = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < (long)sizeof h || fseek(f, 0, SEEK_SET) != 0 ||
        (data = malloc((size_t)size)) == NULL || fread(data, 1, (size_t)size, f) != (size_t)size)
        goto reject;
    memcpy(&h, data, sizeof h);
    if (h.headerSize < sizeof h || h.headerSize > (uint32_t)size ||
        h.headerVersion != VK_PIPELINE_CACHE_HEADER_VERSION_ONE || h.vendorID != c->props.vendorID ||
        h.deviceID != c->props.deviceID || memcmp(h.pipelineCacheUUID, c->props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
        goto reject;
    fclose(f);
    *len = (size_t)size;
    return data;
reject:
    /* A file from another driver build, or damaged: ignored, and overwritten at destroy. */
    c->cache_rejected = 1;
    free(data);
    fclose(f);
    return NULL;
}

/* Writes the cache through a temporary file and rename, so a reader never sees half a file. */
static void rk__vk_cache_write(rk__vk_ctx *c)
{
    char tmp[sizeof c->cache_path + 16];
    size_t len = 0;
    void *data;
    FILE *f;
    int fd, ok;

    if (c->cache == VK_NULL_HANDLE || c->cache_path[0] == '\0' ||
        c->vkGetPipelineCacheData(c->device, c->cache, &len, NULL) != VK_SUCCESS || len == 0)
        return;
    if ((data = malloc(len)) == NULL)
        return;
    if (c->vkGetPipelineCacheData(c->device, c->cache, &len, data) != VK_SUCCESS) {
        free(data);
        return;
    }
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", c->cache_path);
    if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "wb")) == NULL) {
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(data);
        return;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, c->cache_path) != 0)
        unlink(tmp);
    free(data);
}

/* ---- Contexts ------------------------------------------------------------------------------------------ */

static int rk__vk_env_flag(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static int rk__vk_messenger_create(const rk__vk_loader *l, rk__vk_ctx *c)
{
    PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT)l->gipa(c->instance, "vkCreateDebugUtilsMessengerEXT");
    VkDebugUtilsMessengerCreateInfoEXT mi = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = rk__vk_on_message,
    };
    int rc;

    c->destroy_messenger =
        (PFN_vkDestroyDebugUtilsMessengerEXT)l->gipa(c->instance, "vkDestroyDebugUtilsMessengerEXT");
    if (create == NULL || c->destroy_messenger == NULL)
        return rk__err(RK_EBACKEND, "Vulkan: the validation layer offers no debug-utils messenger");
    RK__VK_CHECK(create(c->instance, &mi, NULL, &c->messenger), fail);
    return 0;
fail:
    return rc;
}

/* Picks the first queue family with compute; records its timestamp support. */
static int rk__vk_queue_family(rk__vk_ctx *c)
{
    VkQueueFamilyProperties qf[32];
    uint32_t n = 32;

    c->vi.vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n, qf);
    for (uint32_t i = 0; i < n; i++) {
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            c->queue_family = i;
            c->timestamp_bits = qf[i].timestampValidBits;
            return 0;
        }
    }
    return rk__err(RK_ENODEV, "Vulkan device '%s' has no compute queue", c->desc.name);
}

/* Whether the device offers extension `name`. */
static int rk__vk_device_has_ext(rk__vk_ctx *c, const char *name)
{
    VkExtensionProperties *e;
    uint32_t n = 0;
    int found = 0;

    if (c->vi.vkEnumerateDeviceExtensionProperties == NULL ||
        c->vi.vkEnumerateDeviceExtensionProperties(c->phys, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    if ((e = calloc(n, sizeof *e)) == NULL)
        return 0;
    if (c->vi.vkEnumerateDeviceExtensionProperties(c->phys, NULL, &n, e) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(e[i].extensionName, name) == 0;
    free(e);
    return found;
}

/* Creates the device with every optional shader feature it has (RK__VK_FEAT_*): enabling one changes
 * nothing for a shader that does not use it, and compute kernels (64-bit types) and actors (the device
 * clock) are compiled after the context exists. */
static int rk__vk_device_create(rk__vk_ctx *c)
{
    static const char *const clock_ext = VK_KHR_SHADER_CLOCK_EXTENSION_NAME;
    const float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = c->queue_family, .queueCount = 1, .pQueuePriorities = &prio };
    VkPhysicalDeviceFeatures have = { 0 }, on = { 0 };
    VkPhysicalDeviceShaderClockFeaturesKHR clock = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR };
    VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &clock };
    VkDeviceCreateInfo di = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qi, .pEnabledFeatures = &on };
    int rc;

    c->vi.vkGetPhysicalDeviceFeatures(c->phys, &have);
    c->features = 0;
    if (have.shaderFloat64)
        c->features |= RK__VK_FEAT_FLOAT64;
    if (have.shaderInt64)
        c->features |= RK__VK_FEAT_INT64;
    if (have.shaderInt16)
        c->features |= RK__VK_FEAT_INT16;
    on.shaderFloat64 = have.shaderFloat64;
    on.shaderInt64 = have.shaderInt64;
    on.shaderInt16 = have.shaderInt16;
    /* The clock feature is queried through vkGetPhysicalDeviceFeatures2 (Vulkan 1.1), and enabled by
     * chaining the same structure, now with only shaderDeviceClock set, into the device's create info. */
    if (c->vi.vkGetPhysicalDeviceFeatures2 != NULL && c->desc.api_version >= VK_API_VERSION_1_1 &&
        rk__vk_device_has_ext(c, clock_ext)) {
        c->vi.vkGetPhysicalDeviceFeatures2(c->phys, &f2);
        if (clock.shaderDeviceClock) {
            clock = (VkPhysicalDeviceShaderClockFeaturesKHR){
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR, .shaderDeviceClock = VK_TRUE };
            di.pNext = &clock;
            di.enabledExtensionCount = 1;
            di.ppEnabledExtensionNames = &clock_ext;
            c->features |= RK__VK_FEAT_DEVICE_CLOCK;
        }
    }
    RK__VK_CHECK(c->vi.vkCreateDevice(c->phys, &di, NULL, &c->device), fail);
#define RK__VK_LOAD_DEVICE(fn) c->fn = (PFN_##fn)c->vi.vkGetDeviceProcAddr(c->device, #fn);
    RK__VK_DEVICE_FNS(RK__VK_LOAD_DEVICE)
#undef RK__VK_LOAD_DEVICE
    if (c->vkDestroyDevice == NULL || c->vkQueueSubmit == NULL || c->vkCmdDispatchIndirect == NULL) {
        if (c->vkDestroyDevice != NULL)
            c->vkDestroyDevice(c->device, NULL);
        c->device = VK_NULL_HANDLE;
        return rk__err(RK_EBACKEND, "Vulkan device '%s' lacks core entry points", c->desc.name);
    }
    c->vkGetDeviceQueue(c->device, c->queue_family, 0, &c->queue);
    return 0;
fail:
    return rc;
}

static int rk__vk_cache_create(rk__vk_ctx *c, const char *dir)
{
    VkPipelineCacheCreateInfo pci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
    size_t len = 0;
    void *data;
    int rc = 0;

    rk__vk_cache_path(c, dir);
    data = rk__vk_cache_read(c, &len);
    pci.initialDataSize = data != NULL ? len : 0;
    pci.pInitialData = data;
    if (c->vkCreatePipelineCache(c->device, &pci, NULL, &c->cache) == VK_SUCCESS) {
        c->cache_loaded = pci.initialDataSize;
    } else {
        /* The driver refused data whose header matched: start empty (rewritten at destroy). */
        c->cache_rejected = 1;
        pci.initialDataSize = 0;
        pci.pInitialData = NULL;
        RK__VK_CHECK(c->vkCreatePipelineCache(c->device, &pci, NULL, &c->cache), out);
    }
out:
    free(data);
    return rc;
}

int rk__vk_ctx_create(rk__vk_ctx **out, const rk__vk_ctx_opts *opts)
{
    rk__vk_device_desc descs[RK__VK_MAX_DEVICES];
    VkPhysicalDevice pds[RK__VK_MAX_DEVICES];
    const rk__vk_loader *l;
    const char *why = NULL;
    rk__vk_ctx *c;
    int rc, n;

    if ((l = rk__vk_loader_get(&why)) == NULL)
        return rk__err(RK_ENODEV, "%s", why);
    (void)rk__vk_devices(NULL, 0, NULL); /* the probe's instance keeps the drivers loaded (rk__vk_probe_run) */
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return rk__err(RK_ENOMEM, "Vulkan: out of memory");
    if ((rc = rk__vk_instance_create(l, opts->validation || rk__vk_env_flag("RK_VK_VALIDATION"), &c->instance,
                                     &c->vi, &c->validation)) != 0)
        goto fail_instance;
    if (c->validation && (rc = rk__vk_messenger_create(l, c)) != 0)
        goto fail_messenger;
    if ((n = rk__vk_enumerate(&c->vi, c->instance, descs, pds)) < 0) {
        rc = n;
        goto fail_device;
    }
    if (opts->device < 0 || opts->device >= n) {
        rc = rk__err(RK_ENODEV, "Vulkan: no device %d (%d found)", opts->device, n);
        goto fail_device;
    }
    c->phys = pds[opts->device];
    c->desc = descs[opts->device];
    c->vi.vkGetPhysicalDeviceProperties(c->phys, &c->props);
    c->vi.vkGetPhysicalDeviceMemoryProperties(c->phys, &c->mem);
    c->timestamp_period = c->props.limits.timestampPeriod;
    if ((rc = rk__vk_queue_family(c)) != 0 || (rc = rk__vk_device_create(c)) != 0)
        goto fail_device;
    if ((rc = rk__vk_cache_create(c, opts->cache_dir)) != 0)
        goto fail_cache;
    if (pthread_mutex_init(&c->submit_lock, NULL) != 0) {
        rc = rk__err(RK_ENOMEM, "Vulkan: cannot initialise a mutex");
        goto fail_lock;
    }
    *out = c;
    return 0;

fail_lock:
    c->vkDestroyPipelineCache(c->device, c->cache, NULL);
fail_cache:
    c->vkDestroyDevice(c->device, NULL);
fail_device:
    if (c->messenger != VK_NULL_HANDLE)
        c->destroy_messenger(c->instance, c->messenger, NULL);
fail_messenger:
    c->vi.vkDestroyInstance(c->instance, NULL);
fail_instance:
    free(c);
    return rc;
}

void rk__vk_ctx_destroy(rk__vk_ctx *c)
{
    if (c == NULL)
        return;
    rk__vk_cache_write(c);
    c->vkDestroyPipelineCache(c->device, c->cache, NULL);
    c->vkDestroyDevice(c->device, NULL);
    if (c->messenger != VK_NULL_HANDLE)
        c->destroy_messenger(c->instance, c->messenger, NULL);
    c->vi.vkDestroyInstance(c->instance, NULL);
    pthread_mutex_destroy(&c->submit_lock);
    free(c);
}

/* ---- Buffers ------------------------------------------------------------------------------------------- */

/* A memory type allowed by `bits` with every flag of `need`; among those the first with `want` too. */
static int rk__vk_memory_type(const rk__vk_ctx *c, uint32_t bits, VkMemoryPropertyFlags need, VkMemoryPropertyFlags want)
{
    int found = -1;

    for (uint32_t i = 0; i < c->mem.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = c->mem.memoryTypes[i].propertyFlags;

        if (!(bits & (1u << i)) || (f & need) != need)
            continue;
        if ((f & want) == want)
            return (int)i;
        if (found < 0)
            found = (int)i;
    }
    return found;
}

int rk__vk_buffer_create(rk__vk_ctx *c, VkDeviceSize size, rk__vk_mem where, VkBufferUsageFlags extra_usage,
                         rk__vk_buffer *out)
{
    VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_SRC_BIT | extra_usage,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
    VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
    VkMemoryRequirements req;
    int rc, type;

    memset(out, 0, sizeof *out);
    RK__VK_CHECK(c->vkCreateBuffer(c->device, &bi, NULL, &out->buf), fail_buffer);
    c->vkGetBufferMemoryRequirements(c->device, out->buf, &req);
    /* Host buffers: coherent, so no flush or invalidate calls; cached where offered, since the host reads
     * the outputs back. Device buffers: device-local where the device has it, else whatever fits. */
    if (where == RK__VK_MEM_HOST)
        type = rk__vk_memory_type(c, req.memoryTypeBits,
                                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    else
        type = rk__vk_memory_type(c, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) {
        rc = rk__err(RK_ENOTSUP, "Vulkan device '%s' has no %s memory for a buffer", c->desc.name,
                     where == RK__VK_MEM_HOST ? "host-visible coherent" : "suitable");
        goto fail_memory;
    }
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = (uint32_t)type;
    RK__VK_CHECK(c->vkAllocateMemory(c->device, &ai, NULL, &out->mem), fail_memory);
    RK__VK_CHECK(c->vkBindBufferMemory(c->device, out->buf, out->mem, 0), fail_bind);
    /* A device buffer in memory the host can also see coherently (lavapipe, integrated GPUs, resizable
     * BAR) is mapped too, so the host copies to and from it without a staging buffer. */
    if (where == RK__VK_MEM_HOST ||
        (c->mem.memoryTypes[type].propertyFlags & (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) ==
            (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
        RK__VK_CHECK(c->vkMapMemory(c->device, out->mem, 0, VK_WHOLE_SIZE, 0, &out->map), fail_bind);
    out->size = size;
    return 0;

fail_bind:
    c->vkFreeMemory(c->device, out->mem, NULL);
fail_memory:
    c->vkDestroyBuffer(c->device, out->buf, NULL);
fail_buffer:
    memset(out, 0, sizeof *out);
    return rc;
}

void rk__vk_buffer_destroy(rk__vk_ctx *c, rk__vk_buffer *b)
{
    if (b->buf == VK_NULL_HANDLE)
        return;
    c->vkDestroyBuffer(c->device, b->buf, NULL);
    c->vkFreeMemory(c->device, b->mem, NULL); /* unmaps it */
    memset(b, 0, sizeof *b);
}

/* ---- Pipelines ----------------------------------------------------------------------------------------- */

#define RK__VK_MAX_BINDINGS 16u

/* ---- SPIR-V ------------------------------------------------------------------------------------------- */

/* The SPIR-V numbers read here (SPIR-V 1.x specification, sections 3.8, 3.31 and 3.32). */
enum {
    RK__SPV_MAGIC = 0x07230203u,
    RK__SPV_OP_CAPABILITY = 17,
    RK__SPV_OP_ENTRY_POINT = 15,
    RK__SPV_OP_EXECUTION_MODE = 16,
    RK__SPV_OP_FUNCTION = 54, /* the first function ends the section holding the ones above */
    RK__SPV_MODEL_GLCOMPUTE = 5,
    RK__SPV_MODE_LOCAL_SIZE = 17,
    RK__SPV_CAP_FLOAT64 = 10,
    RK__SPV_CAP_INT64 = 11,
    RK__SPV_CAP_INT64_ATOMICS = 12,
    RK__SPV_CAP_INT16 = 22,
    RK__SPV_CAP_SHADER_CLOCK = 5055,
};

int rk__vk_spirv_inspect(const uint32_t *w, size_t n, rk__vk_spirv_info *out)
{
    uint32_t entry = 0, has_entry = 0;
    size_t i = 5;

    memset(out, 0, sizeof *out);
    if (w == NULL || n < 5 || w[0] != RK__SPV_MAGIC)
        return rk__err(RK_EINVAL, "not a SPIR-V module (%zu words%s)", n,
                       w != NULL && n >= 1 && w[0] != RK__SPV_MAGIC ? ", bad magic" : "");
    out->bound = w[3];
    while (i < n) {
        uint32_t len = w[i] >> 16, op = w[i] & 0xffffu;

        if (len == 0 || i + len > n)
            return rk__err(RK_EINVAL, "SPIR-V module truncated at word %zu", i);
        if (op == RK__SPV_OP_FUNCTION)
            break;
        if (op == RK__SPV_OP_CAPABILITY && len >= 2) {
            uint32_t cap = w[i + 1];
            out->needs |= cap == RK__SPV_CAP_FLOAT64 ? RK__VK_FEAT_FLOAT64
                          : cap == RK__SPV_CAP_INT64 || cap == RK__SPV_CAP_INT64_ATOMICS ? RK__VK_FEAT_INT64
                          : cap == RK__SPV_CAP_INT16 ? RK__VK_FEAT_INT16
                          : cap == RK__SPV_CAP_SHADER_CLOCK ? RK__VK_FEAT_DEVICE_CLOCK : 0u;
        } else if (op == RK__SPV_OP_ENTRY_POINT && len >= 4 && w[i + 1] == RK__SPV_MODEL_GLCOMPUTE &&
                   memcmp(&w[i + 3], "main", 5) == 0) {
            entry = w[i + 2];
            has_entry = 1;
        } else if (op == RK__SPV_OP_EXECUTION_MODE && len >= 6 && has_entry && w[i + 1] == entry &&
                   w[i + 2] == RK__SPV_MODE_LOCAL_SIZE) {
            memcpy(out->local_size, &w[i + 3], sizeof out->local_size);
        }
        i += len;
    }
    if (!has_entry)
        return rk__err(RK_EINVAL, "SPIR-V module has no GLCompute entry point 'main'");
    return 0;
}

int rk__vk_spirv_check(const rk__vk_ctx *c, const rk__vk_spirv_info *info, const char *what)
{
    static const struct { uint32_t bit; const char *name; } feats[] = {
        { RK__VK_FEAT_FLOAT64, "shaderFloat64" },
        { RK__VK_FEAT_INT64, "shaderInt64" },
        { RK__VK_FEAT_INT16, "shaderInt16" },
        { RK__VK_FEAT_DEVICE_CLOCK, "shaderDeviceClock (VK_KHR_shader_clock)" },
    };

    for (size_t i = 0; i < sizeof feats / sizeof feats[0]; i++)
        if ((info->needs & feats[i].bit) && !(c->features & feats[i].bit))
            return rk__err(RK_ENOTSUP, "%s needs the Vulkan feature %s, which device '%s' does not have", what,
                           feats[i].name, c->desc.name);
    return 0;
}

int rk__vk_pipeline_create(rk__vk_ctx *c, const uint32_t *spirv, size_t words, uint32_t bindings, uint32_t push_size,
                           rk__vk_pipeline *out)
{
    VkDescriptorSetLayoutBinding b[RK__VK_MAX_BINDINGS];
    VkDescriptorSetLayoutCreateInfo dli = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                            .bindingCount = bindings, .pBindings = b };
    VkPushConstantRange pr = { .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = push_size };
    VkPipelineLayoutCreateInfo pli = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1,
                                       .pushConstantRangeCount = push_size > 0, .pPushConstantRanges = &pr };
    VkShaderModuleCreateInfo si = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = words * sizeof(uint32_t), .pCode = spirv };
    VkComputePipelineCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO };
    VkShaderModule mod;
    int rc;

    memset(out, 0, sizeof *out);
    if (spirv == NULL || words < 5 || spirv[0] != 0x07230203u)
        return rk__err(RK_EINVAL, "Vulkan: not a SPIR-V module (%zu words)", words);
    if (bindings > RK__VK_MAX_BINDINGS || push_size % 4 != 0 || push_size > c->props.limits.maxPushConstantsSize)
        return rk__err(RK_EINVAL, "Vulkan: %u bindings (0 to %u) and %u bytes of push constants (a multiple of 4, "
                       "at most %u)", bindings, RK__VK_MAX_BINDINGS, push_size, c->props.limits.maxPushConstantsSize);
    for (uint32_t i = 0; i < bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){ .binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                               .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT };
    RK__VK_CHECK(c->vkCreateDescriptorSetLayout(c->device, &dli, NULL, &out->dsl), fail_dsl);
    pli.pSetLayouts = &out->dsl;
    RK__VK_CHECK(c->vkCreatePipelineLayout(c->device, &pli, NULL, &out->layout), fail_layout);
    RK__VK_CHECK(c->vkCreateShaderModule(c->device, &si, NULL, &mod), fail_module);
    ci.stage = (VkPipelineShaderStageCreateInfo){ .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = mod, .pName = "main" };
    ci.layout = out->layout;
    rc = 0;
    RK__VK_CHECK(c->vkCreateComputePipelines(c->device, c->cache, 1, &ci, NULL, &out->pipe), fail_pipe);
    c->vkDestroyShaderModule(c->device, mod, NULL); /* the pipeline keeps what it needs */
    out->bindings = bindings;
    out->push_size = push_size;
    return 0;

fail_pipe:
    c->vkDestroyShaderModule(c->device, mod, NULL);
fail_module:
    c->vkDestroyPipelineLayout(c->device, out->layout, NULL);
fail_layout:
    c->vkDestroyDescriptorSetLayout(c->device, out->dsl, NULL);
fail_dsl:
    memset(out, 0, sizeof *out);
    return rc;
}

void rk__vk_pipeline_destroy(rk__vk_ctx *c, rk__vk_pipeline *p)
{
    if (p->pipe == VK_NULL_HANDLE)
        return;
    c->vkDestroyPipeline(c->device, p->pipe, NULL);
    c->vkDestroyPipelineLayout(c->device, p->layout, NULL);
    c->vkDestroyDescriptorSetLayout(c->device, p->dsl, NULL);
    memset(p, 0, sizeof *p);
}

void rk__vk_bind(rk__vk_ctx *c, VkDescriptorSet set, rk__vk_buffer *const *bufs, uint32_t n)
{
    VkDescriptorBufferInfo info[RK__VK_MAX_BINDINGS];
    VkWriteDescriptorSet w[RK__VK_MAX_BINDINGS];

    for (uint32_t i = 0; i < n && i < RK__VK_MAX_BINDINGS; i++) {
        info[i] = (VkDescriptorBufferInfo){ .buffer = bufs[i]->buf, .offset = 0, .range = VK_WHOLE_SIZE };
        w[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set, .dstBinding = i,
                                       .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                       .pBufferInfo = &info[i] };
    }
    c->vkUpdateDescriptorSets(c->device, n < RK__VK_MAX_BINDINGS ? n : RK__VK_MAX_BINDINGS, w, 0, NULL);
}

/* ---- Submission ---------------------------------------------------------------------------------------- */

int rk__vk_submit(rk__vk_ctx *c, VkCommandBuffer cb, VkFence fence)
{
    VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb };
    VkResult r;

    pthread_mutex_lock(&c->submit_lock);
    r = c->vkQueueSubmit(c->queue, 1, &si, fence);
    pthread_mutex_unlock(&c->submit_lock);
    return r == VK_SUCCESS ? 0 : rk__vk_fail(r, "vkQueueSubmit");
}

int rk__vk_fence_wait(rk__vk_ctx *c, VkFence fence, int64_t timeout_ns)
{
    VkResult r = c->vkWaitForFences(c->device, 1, &fence, VK_TRUE, (uint64_t)timeout_ns);

    if (r != VK_SUCCESS)
        return rk__vk_fail(r, "vkWaitForFences");
    r = c->vkResetFences(c->device, 1, &fence);
    return r == VK_SUCCESS ? 0 : rk__vk_fail(r, "vkResetFences");
}

/* How long rk__vk_run waits for its dispatch. */
#define RK__VK_RUN_TIMEOUT_NS ((int64_t)60 * 1000 * 1000 * 1000)

/* Records the one-off dispatch of rk__vk_run. */
static void rk__vk_record_run(rk__vk_ctx *c, VkCommandBuffer cb, const rk__vk_pipeline *p, VkDescriptorSet set,
                              const void *push, const uint32_t groups[3], VkQueryPool qp)
{
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_HOST_READ_BIT };

    if (qp != VK_NULL_HANDLE) {
        c->vkCmdResetQueryPool(cb, qp, 0, 2);
        c->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qp, 0);
    }
    c->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipe);
    c->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    if (p->push_size > 0)
        c->vkCmdPushConstants(cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_size, push);
    c->vkCmdDispatch(cb, groups[0], groups[1], groups[2]);
    if (qp != VK_NULL_HANDLE)
        c->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qp, 1);
    /* The shader's writes are visible to the host after the fence (host-coherent memory). */
    c->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0,
                            NULL);
}

int rk__vk_run(rk__vk_ctx *c, const rk__vk_pipeline *p, rk__vk_buffer *const *bufs, uint32_t n, const void *push,
               const uint32_t groups[3], uint64_t *elapsed_ns)
{
    VkDescriptorPoolSize ps = { .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = n };
    VkDescriptorPoolCreateInfo dpi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1,
                                       .poolSizeCount = 1, .pPoolSizes = &ps };
    VkDescriptorSetAllocateInfo dsi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorSetCount = 1,
                                        .pSetLayouts = &p->dsl };
    VkCommandPoolCreateInfo cpi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .queueFamilyIndex = c->queue_family };
    VkCommandBufferAllocateInfo cbi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1 };
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
    VkQueryPoolCreateInfo qpi = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                  .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2 };
    VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkDescriptorPool pool;
    VkDescriptorSet set;
    VkCommandPool cpool;
    VkCommandBuffer cb;
    VkQueryPool qp = VK_NULL_HANDLE;
    VkFence fence;
    uint64_t ts[2];
    int rc;

    if (elapsed_ns != NULL)
        *elapsed_ns = 0;
    if (n != p->bindings || (p->push_size > 0 && push == NULL))
        return rk__err(RK_EINVAL, "Vulkan: the pipeline takes %u buffers and %u bytes of push constants; got %u "
                       "buffers%s", p->bindings, p->push_size, n, p->push_size > 0 && push == NULL ? " and none" : "");
    RK__VK_CHECK(c->vkCreateDescriptorPool(c->device, &dpi, NULL, &pool), fail_pool);
    dsi.descriptorPool = pool;
    RK__VK_CHECK(c->vkAllocateDescriptorSets(c->device, &dsi, &set), fail_set);
    rk__vk_bind(c, set, bufs, n);
    RK__VK_CHECK(c->vkCreateCommandPool(c->device, &cpi, NULL, &cpool), fail_set);
    cbi.commandPool = cpool;
    RK__VK_CHECK(c->vkAllocateCommandBuffers(c->device, &cbi, &cb), fail_cb);
    if (c->timestamp_bits > 0)
        RK__VK_CHECK(c->vkCreateQueryPool(c->device, &qpi, NULL, &qp), fail_cb);
    RK__VK_CHECK(c->vkCreateFence(c->device, &fi, NULL, &fence), fail_fence);
    RK__VK_CHECK(c->vkBeginCommandBuffer(cb, &bi), fail_run);
    rk__vk_record_run(c, cb, p, set, push, groups, qp);
    RK__VK_CHECK(c->vkEndCommandBuffer(cb), fail_run);
    if ((rc = rk__vk_submit(c, cb, fence)) != 0 || (rc = rk__vk_fence_wait(c, fence, RK__VK_RUN_TIMEOUT_NS)) != 0)
        goto fail_run;
    if (qp != VK_NULL_HANDLE && elapsed_ns != NULL) {
        uint64_t mask = c->timestamp_bits >= 64 ? UINT64_MAX : (((uint64_t)1 << c->timestamp_bits) - 1);

        RK__VK_CHECK(c->vkGetQueryPoolResults(c->device, qp, 0, 2, sizeof ts, ts, sizeof ts[0],
                                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT), fail_run);
        *elapsed_ns = (uint64_t)((double)((ts[1] - ts[0]) & mask) * c->timestamp_period);
    }
    rc = 0;
fail_run:
    c->vkDestroyFence(c->device, fence, NULL);
fail_fence:
    if (qp != VK_NULL_HANDLE)
        c->vkDestroyQueryPool(c->device, qp, NULL);
fail_cb:
    c->vkDestroyCommandPool(c->device, cpool, NULL); /* frees cb */
fail_set:
    c->vkDestroyDescriptorPool(c->device, pool, NULL); /* frees set */
fail_pool:
    return rc;
}
