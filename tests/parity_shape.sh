# tests/parity_shape.sh: jq filters for the parity tests' field-set and type
# checks. Sourced after parity_lib.sh; each helper prints filter text for
# `expect`.
#
#   shape SPEC           the body is an object with exactly SPEC's keys, each of its type
#   at PATH SPEC         the same for the object at PATH (jq path, e.g. .nextBlock)
#   each PATH SPEC       PATH is a non-empty array of such objects
#   v11_error [REGEX]    the V11 error shape {error, code, message, details}, the
#                        message matching REGEX when given
#
# SPEC is a JSON object {"field": "TYPE", ...}. TYPE is a JSON type (string,
# number, object, array, null), bool, int (a number without a fraction:
# Java int and long), instant (Instant.toString(): UTC, 'Z', a fraction of
# 3, 6 or 9 digits or none), or alternatives joined by "|" ("string|null").
# Key order is not checked (Java maps have none).

_shape_defs='def _ty($w): . as $v | any($w | split("|")[]; . as $t |
    if $t == "int" then ($v | type) == "number" and $v == ($v | floor)
    elif $t == "instant" then ($v | type) == "string" and
      ($v | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.([0-9]{3}){1,3})?Z$"))
    elif $t == "bool" then ($v | type) == "boolean"
    else ($v | type) == $t end);
  def _shape($s): type == "object" and keys == ($s | keys) and
    (. as $o | all($s | to_entries[]; . as $e | $o[$e.key] | _ty($e.value)));'

shape() { printf '%s _shape(%s)' "$_shape_defs" "$1"; }
at() { printf '%s (%s) | _shape(%s)' "$_shape_defs" "$1" "$2"; }
each() { printf '%s (%s) | type == "array" and length > 0 and all(.[]; _shape(%s))' "$_shape_defs" "$1" "$2"; }
v11_error() {
  local f='(.error | type == "string") and .message == .error and (.code | type == "number") and (.details | type == "array")'
  [ $# -gt 0 ] && f+=" and (.error | test($(jq -n --arg r "$1" '$r')))"
  printf '%s' "$f"
}

# e2e_jq FILTER: the original's deployment/scripts/comprehensive-e2e-tests.sh
# check, exactly as it runs it (`echo "$body" | jq -e "$check_field"`), on
# both answers of the last call.
e2e_jq() {
  local b
  for b in "$body" "$body2"; do
    if ! echo "$b" | jq -e "$1" >/dev/null 2>&1; then
      bad "e2e script: jq -e '$1' fails on: ${b:0:300}"
      return 1
    fi
  done
  ok
}

# raw_has TEXT: both answers contain TEXT as printed (exact decimal digits,
# which jq would normalise)
raw_has() {
  if [[ "$body" == *"$1"* && "$body2" == *"$1"* ]]; then ok; else
    bad "answer lacks $1: ${body:0:300}"
    return 1
  fi
}
