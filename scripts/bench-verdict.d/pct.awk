# Nearest-rank percentiles of numbers sorted ascending, one per line (from
# `sort -n`): prints "count p50 p99 mean max" in the unit of the input.
{ v[++n] = $1; sum += $1 }
function rank(q,   i) {
  i = int(q * n)
  if (i < q * n) i++
  if (i < 1) i = 1
  return v[i]
}
END {
  if (n == 0) { print "0 - - - -"; exit }
  printf "%d %s %s %.1f %s\n", n, rank(0.50), rank(0.99), sum / n, v[n]
}
