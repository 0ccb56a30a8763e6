# The users manifest's check, run by apply-users.sh with the rules of manifest-rules.json as $rules
# (inlined into the step by the bundler). Validates, naming the field as
# packages/core/src/users/manifest.ts does and never echoing a value, and flattens: L<TAB>layout,
# R<TAB>revision, U<TAB>name<TAB>hash, G<TAB>user<TAB>access<TAB>path for each enabled user,
# D<TAB>name for each disabled one.
def bad($f; $why): error("\($f): \($why)");
def object($f; $allowed):
  if type != "object" then bad($f; "must be an object")
  elif keys - $allowed != [] then bad("\($f).\((keys - $allowed)[0])" | ltrimstr("(root)."); "unknown field")
  else . end;
def list($f; $max):
  if type != "array" then bad($f; "must be an array")
  elif length > $max then bad($f; "at most \($max) entries") else . end;
def one_of($f; $v): if IN($v[]) then . else bad($f; "must be \($v | map(tostring) | join(" or "))") end;
# \A and \z: Oniguruma's $ also matches before a final newline.
def whole($rule): test("\\A(?:\($rule.pattern))\\z");
# Control characters (a trailing newline too) and non-ASCII never reach a pattern.
def text($f; problem):
  if type != "string" then bad($f; "must be a string")
  elif explode | any(. < 32 or . > 126) then bad($f; "control or non-ASCII characters")
  else problem as $p | if $p then bad($f; $p) else . end end;
$rules as $r
| object("(root)"; ["version", "layout", "revision", "users"])
| if .version != $r.version then bad("version"; "must be \($r.version)") else . end
| (if has("layout") then .layout else "bind" end | one_of("layout"; $r.layouts)) as $layout
# + 0: printed as the number it is (1.0 as 1, -0 as 0).
| (if has("revision") then .revision else 0 end
   | if type == "number" and . == floor and . >= 0 and . <= $r.maxRevision then . + 0
     else bad("revision"; "must be a whole number from 0 to \($r.maxRevision)") end) as $revision
| .users | list("users"; $r.maxUsers) | to_entries
| map("users[\(.key)]" as $u | .value | object($u; ["name", "passwordHash", "disabled", "grants"])
  | (.name | text("\($u).name"; if whole($r.userName) | not then $r.userName.rule
      elif IN($r.reservedUserNames[]) then "reserved for a system account" else null end)) as $name
  | (.passwordHash | text("\($u).passwordHash"; if whole($r.passwordHash) then null else $r.passwordHash.rule end))
    as $hash
  | (if has("disabled") then .disabled else false end
     | if type == "boolean" then . else bad("\($u).disabled"; "must be a boolean") end) as $disabled
  | (.grants | list("\($u).grants"; $r.maxGrantsPerUser)) as $g
  | [$g | to_entries[] | "\($u).grants[\(.key)]" as $f | .value | object($f; ["path", "access"])
     | (.path | text("\($f).path"; split("/") as $s
         | if length > $r.maxGrantPathLength then "at most \($r.maxGrantPathLength) characters"
           elif $s == [] or ($s | any(whole($r.grantSegment) | not)) then $r.grantSegment.rule
           elif $s | any(IN($r.reservedFolders[])) then "reserved for the fleet" else null end)) as $_
     | .access | one_of("\($f).access"; $r.access)] as $_
  # Each path once, none inside another: a nested grant would be mounted over its parent's view.
  | [$g[].path] as $p
  | [range($p | length) as $j
     | first(range($p | length) as $k | select($k < $j and $p[$k] == $p[$j] or ($p[$j] | startswith($p[$k] + "/")))
       | $k)
     | bad("\($u).grants[\($j)].path"; "\(if $p[.] == $p[$j] then "duplicate of" else "inside" end) grants[\(.)].path")
    ] as $_
  | {$name, $hash, $disabled, grants: $g})
| . as $all
| (reduce range(length) as $i ({}; $all[$i].name as $n
   | if has($n) then bad("users[\($i)].name"; "duplicate of users[\(.[$n])].name") else .[$n] = $i end)) as $_
| "L\t\($layout)", "R\t\($revision)",
  (.[] | if .disabled then "D\t\(.name)"
         else "U\t\(.name)\t\(.hash)", (.name as $n | .grants[] | "G\t\($n)\t\(.access)\t\(.path)") end)
