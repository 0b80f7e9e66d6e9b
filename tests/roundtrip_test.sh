#!/usr/bin/env bash
# Round trips of the JSON <-> protobuf transcoders against an independent
# encoder, protoc.
#
#   tests/cases/roundtrip.txt  one case per block:
#     (1) expected.bin = protoc --encode=TYPE  < text
#     (2) ours.bin     = agtranscode --to-pb   < json
#         compare protoc --decode of both (canonical text, field order free)
#     (3) agtranscode --to-json < expected.bin must print `out:` exactly
#         (or the input JSON when the case has no `out:`)
#     (4) with `bytes: exact`, ours.bin must equal expected.bin byte for byte
#     With `pb-printf:`, step (3) reads those bytes instead of protoc's
#     (other valid encodings: unpacked for packed, split messages, ...);
#     protoc must decode them to the same message as `text:`.
#   tests/cases/errors.txt     one case per block: agtranscode --to-pb of the
#     JSON must exit 1 with {"code":3,...} on stderr whose message contains
#     `error:`. A block with `text:` or `pb-printf:` instead of JSON checks
#     the other direction: --to-json of those bytes must fail the same way.
#
# Case format (both files):
#   # comment                      (only at the start of a line)
#   [case-name]                    starts a block
#   type: agtest.Scalars           message type; when left out, the previous
#                                  block's type is used
#   json: {...}                    input JSON, verbatim (one line)
#   json-printf: {...}             input JSON as a printf FORMAT (for raw
#                                  bytes: \xff; write %% and \\ for % and \)
#   gen: deep N                    input JSON generated: N levels of
#                                  {"next":...} around {"value":1}
#   gen: bigstring N               {"fString":"aaaa..."} with N bytes
#   gen: arrays FIELD N            {"FIELD":[[...[1]...]]}, N arrays deep
#   text: f_int32: 1               protobuf text format; may repeat (lines are
#                                  joined); may be empty (the empty message)
#   out: {...}                     canonical JSON our --to-json must print
#   out: skip                      do not check the --to-json direction
#   pb-printf: \x08\x01              wire bytes as a printf FORMAT
#   pb-check: off                  (roundtrip.txt) skip checking that protoc
#                                  decodes pb-printf to `text:` (for bytes
#                                  protoc prints raw: unknown fields, ...)
#   bytes: exact                   our bytes must equal protoc's
#   flags: --emit-defaults ...     extra agtranscode flags (both directions)
#   error: substring               (errors.txt) expected in the error message
#   code: N                        (errors.txt) expected code, default 3
#
# Environment (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR, PROTOC,
# WKT_INCLUDE (default /usr/include). Extra: AG_CASES=regex runs only the
# cases whose name matches; AG_VERBOSE=1 prints every case (and the error
# each error case got); AG_JOBS=N runs the cases in N shards at once
# (default: the number of CPUs, at most 8).
set -euo pipefail

: "${AG_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${AG_BUILD_DIR:?AG_BUILD_DIR must name the build directory}"
: "${PROTOC:=protoc}"
: "${WKT_INCLUDE:=/usr/include}"
: "${AG_CASES:=}"
: "${AG_VERBOSE:=0}"
: "${AG_JOBS:=$(nproc 2>/dev/null || echo 1)}"

TOOL="$AG_BUILD_DIR/agtranscode"
DESC="$AG_BUILD_DIR/transcode-test.pb"
CASES_DIR="$AG_SOURCE_DIR/tests/cases"
PROTO_FILE=transcode_test.proto
PROTOC_ARGS=(-I"$AG_SOURCE_DIR/tests/proto" -I"$AG_SOURCE_DIR/proto" -I"$WKT_INCLUDE")

for f in "$TOOL" "$DESC" "$CASES_DIR/roundtrip.txt" "$CASES_DIR/errors.txt"; do
    if [[ ! -f $f ]]; then
        echo "roundtrip_test: missing $f" >&2
        exit 2
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ag-roundtrip.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0

last_failed=""
fail() { # name, reason, [detail text]; a case counts once however it fails
    if [[ $1 != "$last_failed" ]]; then
        failed=$((failed + 1))
        last_failed=$1
    fi
    echo "FAIL $1: $2"
    if [[ $# -ge 3 && -n $3 ]]; then
        printf '%s\n' "$3" | sed 's/^/    /'
    fi
}

ok() {
    passed=$((passed + 1))
    if [[ $AG_VERBOSE == 1 ]]; then echo "ok   $1"; fi
}

# Writes the input JSON of the current case to $1.
make_json() {
    local dst=$1
    if [[ -n $c_gen ]]; then
        local kind n
        read -r kind n <<<"$c_gen"
        case $kind in
        deep)
            local i open="" close=""
            for ((i = 0; i < n; i++)); do open+='{"next":'; close+='}'; done
            printf '%s{"value":1}%s' "$open" "$close" >"$dst"
            ;;
        bigstring)
            { printf '{"fString":"'; head -c "$n" /dev/zero | tr '\0' a; printf '"}'; } >"$dst"
            ;;
        arrays)
            local field m
            read -r kind field m <<<"$c_gen"
            local i open="" close=""
            for ((i = 0; i < m; i++)); do open+='['; close+=']'; done
            printf '{"%s":%s1%s}' "$field" "$open" "$close" >"$dst"
            ;;
        *)
            echo "roundtrip_test: bad gen: $c_gen in $c_name" >&2
            exit 2
            ;;
        esac
    elif [[ $c_has_printf == 1 ]]; then
        # shellcheck disable=SC2059  # the case's text is the format, by design
        printf "$c_json_printf" >"$dst"
    else
        printf '%s' "$c_json" >"$dst"
    fi
}

run_roundtrip() {
    local name=$c_name type=$c_type d="$TMP/c.$shard"
    local -a flags=()
    if [[ -n $c_flags ]]; then read -r -a flags <<<"$c_flags"; fi
    make_json "$d.json"

    # (1) protoc's bytes from the text format.
    printf '%s' "$c_text" >"$d.txt"
    if ! "$PROTOC" "${PROTOC_ARGS[@]}" --encode="$type" "$PROTO_FILE" <"$d.txt" >"$d.expected.bin" 2>"$d.err"; then
        fail "$name" "protoc --encode rejected the case's text (bad case)" "$(cat "$d.err")"
        return
    fi

    # (2) our bytes from the JSON, compared as decoded text.
    local bad=0
    if ! "$TOOL" --descriptors "$DESC" --type "$type" --to-pb "${flags[@]}" <"$d.json" >"$d.ours.bin" 2>"$d.err"; then
        fail "$name" "--to-pb failed on $(cat "$d.json")" "$(cat "$d.err")"
        bad=1
    elif ! cmp -s "$d.ours.bin" "$d.expected.bin"; then
        if ! "$PROTOC" "${PROTOC_ARGS[@]}" --decode="$type" "$PROTO_FILE" <"$d.ours.bin" >"$d.ours.txt" 2>"$d.err"; then
            fail "$name" "protoc cannot decode our bytes for $(cat "$d.json")" "$(cat "$d.err")"
            bad=1
        else
            "$PROTOC" "${PROTOC_ARGS[@]}" --decode="$type" "$PROTO_FILE" <"$d.expected.bin" >"$d.expected.txt"
            if ! cmp -s "$d.ours.txt" "$d.expected.txt"; then
                fail "$name" "--to-pb of $(cat "$d.json") differs from protoc (- protoc, + ours)" \
                    "$(diff -u "$d.expected.txt" "$d.ours.txt" | tail -n +3 || true)"
                bad=1
            elif [[ $c_bytes == exact ]]; then
                fail "$name" "bytes differ from protoc's (same content)" \
                    "protoc: $(od -An -tx1 -v "$d.expected.bin" | tr -s ' \n' ' ')
ours:   $(od -An -tx1 -v "$d.ours.bin" | tr -s ' \n' ' ')"
                bad=1
            fi
        fi
    fi

    # (3) our JSON from protoc's bytes (or the case's own bytes).
    local wire="$d.expected.bin"
    if [[ $c_has_pb == 1 ]]; then
        wire="$d.case.bin"
        # shellcheck disable=SC2059
        printf "$c_pb_printf" >"$wire"
        "$PROTOC" "${PROTOC_ARGS[@]}" --decode="$type" "$PROTO_FILE" <"$d.expected.bin" >"$d.expected.txt"
        if [[ $c_pb_check != off ]] &&
            { ! "$PROTOC" "${PROTOC_ARGS[@]}" --decode="$type" "$PROTO_FILE" <"$wire" >"$d.case.txt" 2>"$d.err" ||
                ! cmp -s "$d.case.txt" "$d.expected.txt"; }; then
            fail "$name" "pb-printf bytes are not the message of text: (bad case)" \
                "$(cat "$d.err"; diff -u "$d.expected.txt" "$d.case.txt" | tail -n +3 || true)"
            return
        fi
    fi
    if [[ $c_out != skip ]]; then
        local want
        if [[ $c_has_out == 1 ]]; then want=$c_out; else want=$(<"$d.json"); fi
        if ! "$TOOL" --descriptors "$DESC" --type "$type" --to-json "${flags[@]}" <"$wire" >"$d.out" 2>"$d.err"; then
            fail "$name" "--to-json failed" "$(cat "$d.err")"
            bad=1
        else
            local got
            got=$(<"$d.out")
            if [[ $got != "$want" ]]; then
                fail "$name" "--to-json output differs" "want: $want
got:  $got"
                bad=1
            fi
        fi
    fi
    if [[ $bad == 0 ]]; then ok "$name"; fi
}

run_error() {
    local name=$c_name type=$c_type d="$TMP/c.$shard"
    local -a flags=()
    if [[ -n $c_flags ]]; then read -r -a flags <<<"$c_flags"; fi
    local rc=0 shown
    if [[ $c_has_text == 1 || $c_has_pb == 1 ]]; then
        if [[ $c_has_pb == 1 ]]; then
            # shellcheck disable=SC2059
            printf "$c_pb_printf" >"$d.in.bin"
            shown="bytes $c_pb_printf"
        else
            printf '%s' "$c_text" >"$d.txt"
            if ! "$PROTOC" "${PROTOC_ARGS[@]}" --encode="$type" "$PROTO_FILE" <"$d.txt" >"$d.in.bin" 2>"$d.err"; then
                fail "$name" "protoc --encode rejected the case's text (bad case)" "$(cat "$d.err")"
                return
            fi
            shown="text $c_text"
        fi
        "$TOOL" --descriptors "$DESC" --type "$type" --to-json "${flags[@]}" <"$d.in.bin" >"$d.out" 2>"$d.err" || rc=$?
        if [[ $rc == 0 ]]; then shown+=" (printed $(head -c 200 "$d.out"))"; fi
    else
        make_json "$d.json"
        "$TOOL" --descriptors "$DESC" --type "$type" --to-pb "${flags[@]}" <"$d.json" >"$d.ours.bin" 2>"$d.err" || rc=$?
        shown=$(head -c 200 "$d.json")
    fi
    local errtext want_code=${c_code:-3} want_text
    errtext=$(head -c 2000 "$d.err")
    if [[ $AG_VERBOSE == 1 ]]; then echo "     $name: rc=$rc $errtext"; fi
    # The message sits in a JSON string: escape the expected text the same way.
    want_text=${c_error//\\/\\\\}
    want_text=${want_text//\"/\\\"}
    if [[ $rc != 1 ]]; then
        fail "$name" "want exit 1, got $rc for $shown" "$errtext"
    elif [[ $errtext != "{\"code\":$want_code,"* ]]; then
        fail "$name" "want code $want_code for $shown" "$errtext"
    elif [[ $errtext != *"$want_text"* ]]; then
        fail "$name" "error lacks \"$c_error\" for $shown" "$errtext"
    else
        ok "$name"
    fi
}

# Reads one case file, calling $2 for each block.
run_file() {
    local file=$1 runner=$2 line key val lineno=0
    c_type=""
    local in_block=0 index=0
    reset_case() {
        c_name="" c_json="" c_json_printf="" c_has_printf=0 c_gen="" c_text="" c_has_text=0
        c_out="" c_has_out=0 c_pb_printf="" c_has_pb=0 c_pb_check="" c_bytes="" c_flags="" c_error="" c_code=""
    }
    finish_case() {
        if [[ $in_block == 1 ]]; then
            if [[ -z $c_type ]]; then
                echo "roundtrip_test: $file: case $c_name has no type" >&2
                exit 2
            fi
            if [[ -n $AG_CASES && ! $c_name =~ $AG_CASES ]]; then return; fi
            index=$((index + 1))
            if ((index % jobs == shard)); then "$runner"; fi
        fi
    }
    reset_case
    while IFS= read -r line || [[ -n $line ]]; do
        lineno=$((lineno + 1))
        [[ -z ${line//[[:space:]]/} || $line == '#'* ]] && continue
        if [[ $line =~ ^\[(.+)\]$ ]]; then
            finish_case
            reset_case
            c_name=${BASH_REMATCH[1]}
            in_block=1
            continue
        fi
        if [[ ! $line =~ ^([a-z-]+):\ ?(.*)$ ]]; then
            echo "roundtrip_test: $file:$lineno: cannot parse: $line" >&2
            exit 2
        fi
        key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
        case $key in
        type) c_type=$val ;;
        json) c_json=$val ;;
        json-printf) c_json_printf=$val c_has_printf=1 ;;
        gen) c_gen=$val ;;
        pb-printf) c_pb_printf=$val c_has_pb=1 ;;
        pb-check) c_pb_check=$val ;;
        text)
            if [[ $c_has_text == 1 ]]; then c_text+=$'\n'; fi
            c_text+=$val c_has_text=1
            ;;
        out) c_out=$val c_has_out=1 ;;
        bytes) c_bytes=$val ;;
        flags) c_flags=$val ;;
        error) c_error=$val ;;
        code) c_code=$val ;;
        *)
            echo "roundtrip_test: $file:$lineno: unknown key $key" >&2
            exit 2
            ;;
        esac
    done <"$file"
    finish_case
}

jobs=$AG_JOBS
if ((jobs > 8)); then jobs=8; fi
if ((jobs < 1)); then jobs=1; fi
# Each shard runs every jobs-th case of both files, prints its report to
# its own file and its counts last.
for ((shard = 0; shard < jobs; shard++)); do
    (
        run_file "$CASES_DIR/roundtrip.txt" run_roundtrip
        run_file "$CASES_DIR/errors.txt" run_error
        echo "$passed $failed" >"$TMP/counts.$shard"
    ) >"$TMP/report.$shard" 2>&1 &
done
status=0
wait || status=$?
for ((shard = 0; shard < jobs; shard++)); do
    cat "$TMP/report.$shard"
    if [[ ! -s $TMP/counts.$shard ]]; then
        echo "roundtrip_test: shard $shard stopped early" >&2
        status=2
        continue
    fi
    read -r p f <"$TMP/counts.$shard"
    passed=$((passed + p))
    failed=$((failed + f))
done

echo "$passed passed, $failed failed"
if [[ $status == 2 ]]; then exit 2; fi
[[ $failed == 0 ]]
