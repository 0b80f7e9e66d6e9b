#!/usr/bin/env python3
"""stages.py: a gateway CPU profile by request stage.

    perf record -g -e cpu-clock -p PID -o perf.data -- sleep N   (under load)
    perf script -i perf.data -F sym,dso,ip --no-inline | bench/profile/stages.py BUILD_DIR

Each sample goes to one stage: kernel samples by the path that led there
(io_uring send = response write, io_uring receive = request read,
writev/read syscalls = upstream write/read, epoll), user samples by the
source file of the function they are in (nm of the build's objects), and
libraries by name. Prints percent of samples per stage.
"""
import collections, os, re, subprocess, sys

build = sys.argv[1]
file_of = {}
for root, _, files in os.walk(build):
    for f in files:
        if f.endswith('.c.o'):
            src = f[:-4]
            out = subprocess.run(['nm', '--defined-only', os.path.join(root, f)], capture_output=True, text=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] in 'tTwW':
                    file_of.setdefault(parts[2], src)

SRC_STAGE = {
    'http1_uring': 'HTTP/1.1 front end (parse, response write, connection state)',
    'route': 'route', 'api': 'api handler glue', 'upstream': 'upstream (gRPC call, framing glue)',
    'json_to_pb': 'transcode', 'pb_to_json': 'transcode', 'scalar': 'transcode', 'binding': 'transcode',
    'yajl_arena': 'transcode', 'schema': 'transcode', 'buf': 'transcode', 'arena': 'transcode',
    'metrics': 'metrics + access log', 'access_log': 'metrics + access log', 'status': 'api handler glue',
    'worker': 'loop', 'health': 'health', 'server': 'h2o request pipeline (req init, headers, pool, filters)',
}

def stage(frames):
    # frames: leaf first, (sym, dso)
    syms = [s for s, _ in frames]
    if frames and frames[0][1].startswith('[kernel'):
        for s in syms:
            if s in ('io_send', 'io_sendmsg'):
                return 'kernel: response write (io_uring send, incl. loopback delivery)'
            if s in ('io_recv', 'io_recvmsg', 'tctx_task_work', 'io_poll_task_func', 'io_req_task_work_add'):
                return 'kernel: request read (io_uring receive)'
            if s in ('__x64_sys_writev', 'do_writev', '__x64_sys_write', 'ksys_write'):
                return 'kernel: writev (upstream; + responses under h2o)'
            if s in ('__x64_sys_read', 'ksys_read', '__x64_sys_recvfrom'):
                return 'kernel: read (upstream; + requests under h2o)'
            if s in ('__x64_sys_epoll_ctl',):
                return 'kernel: epoll_ctl'
            if s in ('__x64_sys_epoll_wait', 'do_epoll_wait', '__x64_sys_epoll_pwait'):
                return 'kernel: epoll_wait'
            if s in ('__x64_sys_io_uring_enter', '__do_sys_io_uring_enter'):
                return 'kernel: io_uring_enter (other)'
            if s in ('__x64_sys_accept4', 'io_accept', '__x64_sys_close', '__x64_sys_getsockname'):
                return 'kernel: accept/close'
        return 'kernel: other (timer, irq, scheduler)'
    sym, dso = frames[0] if frames else ('?', '?')
    if 'nghttp2' in dso:
        return 'nghttp2 (upstream HTTP/2)'
    if 'yajl' in dso:
        return 'transcode'
    if 'jemalloc' in dso or sym in ('malloc', 'free', 'realloc', 'calloc', 'cfree', '_int_malloc', '_int_free'):
        return 'malloc/free'
    if 'liburing' in dso:
        return 'HTTP/1.1 front end (parse, response write, connection state)'
    if 'libh2o' in dso:
        if sym.startswith('phr_'):
            return 'HTTP/1.1 request parse (picohttpparser)'
        if sym.startswith(('h2o_http1', 'handle_incoming', 'finalostream', 'flatten_headers', 'fixup_request', 'init_headers', 'reqread', 'on_send_complete', 'init_request')):
            return 'HTTP/1.1 front end (parse, response write, connection state)'
        if 'socket' in sym or 'evloop' in sym or sym.startswith(('update_status', 'on_read', 'on_write', 'do_write', 'read_on_ready', 'run_pending', 'link_to', 'evloop_do')):
            return 'h2o socket layer + loop'
        return 'h2o request pipeline (req init, headers, pool, filters)'
    if 'vdso' in dso:
        return 'clock_gettime (vdso)'
    if 'libc' in dso:
        return 'libc (memcpy, snprintf, ...)'
    src = file_of.get(sym)
    if src:
        return SRC_STAGE.get(src, src)
    return 'other: ' + dso

counts = collections.Counter()
total = 0
frames = []
for line in sys.stdin:
    line = line.rstrip('\n')
    if not line.strip():
        if frames:
            counts[stage(frames)] += 1
            total += 1
        frames = []
        continue
    m = re.match(r'\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$', line)
    if m:
        sym = re.sub(r'\+0x[0-9a-f]+$', '', m.group(2))
        frames.append((sym, m.group(3)))
if frames:
    counts[stage(frames)] += 1
    total += 1
for k, v in counts.most_common():
    print(f'{100.0 * v / total:6.1f} %  {k}')
print(f'{total} samples')
