# The look-up list of scripts/bench-verdict, the same on both sides: one
# "NIK<TAB>class" per line, shuffled, from the residents' CSV files (the NIK is
# the first column; each file's first line is its header).
#
# The mix is the one of `kampung-bench open` (BENCHMARKS.md): 85% registered
# NIKs (drawn without repetition from every resident, whatever their status),
# 10% valid NIKs that are not registered (half from the regencies travellers
# mostly come from, half from anywhere in Indonesia), 5% invalid NIKs, each
# rule broken in turn. Every NIK is 16 digits with no leading zero, so that
# PostgreSQL looks up the very same key as a bigint (the non-digit and short
# forms of kampung-bench's set are left out for that reason).
# Every NIK of the list is distinct.
#
#   awk -v seed=1 -v want=200000 -v regencies="1101 1102 ..." -f niks.awk *.csv
#
# `want` is capped at registered / 0.85 so that the mix holds on small data.
BEGIN {
  FS = ","
  srand(seed)
  nreg = split(regencies, reg, " ")
  nfreq = split("3510 3509 3511 3578 5171 5101 5103", freq, " ")
  if (nreg == 0) {
    print "niks.awk: no regency codes given" > "/dev/stderr"
    exit 2
  }
}

function rnd(k) { # 0 .. k-1
  return int(rand() * k)
}

FNR == 1 { next }
{
  n = $1
  gsub(/"/, "", n)
  if (length(n) != 16 || n !~ /^[1-9][0-9]*$/) {
    printf "niks.awk: %s line %d: NIK '%s' is not 16 digits\n", FILENAME, FNR, n > "/dev/stderr"
    bad = 1
    exit 2
  }
  if (!(n in isres)) {
    isres[n] = 1
    res[++R] = n
  }
}

END {
  if (bad) exit 2
  if (R == 0) {
    print "niks.awk: no residents in the CSV files" > "/dev/stderr"
    exit 2
  }
  L = want
  if (L > int(R / 0.85)) L = int(R / 0.85)
  while (L - int(L / 10) - int(L / 20) > R) L--
  nn = int(L / 10)
  ni = int(L / 20)
  nr = L - nn - ni
  m = 0
  # Registered: a partial Fisher-Yates shuffle picks nr distinct residents.
  for (i = 1; i <= nr; i++) {
    j = i + rnd(R - i + 1)
    t = res[i]; res[i] = res[j]; res[j] = t
    out[++m] = res[i] "\tregistered"
  }
  # Not registered: region, district 01-20, a real date (born 1940-1999,
  # women's day + 40), serial 0001-9999.
  made = 0
  tries = 0
  while (made < nn && tries < nn * 100) {
    tries++
    code = (rnd(2) == 0) ? freq[1 + rnd(nfreq)] : reg[1 + rnd(nreg)]
    day = 1 + rnd(28) + (rnd(2) == 0 ? 0 : 40)
    s = sprintf("%s%02d%02d%02d%02d%04d", code, 1 + rnd(20), day, 1 + rnd(12), 40 + rnd(60), 1 + rnd(9999))
    if ((s in isres) || (s in seen)) continue
    seen[s] = 1
    out[++m] = s "\tnon_resident"
    made++
  }
  if (made < nn) {
    print "niks.awk: could not make enough unregistered NIKs" > "/dev/stderr"
    exit 2
  }
  # Invalid: a registered NIK with one rule broken.
  for (i = 0; i < ni; i++) {
    do {
      b = res[1 + rnd(R)]
      k = i % 5
      if (k == 0) s = substr(b, 1, 12) "0000"                  # serial 0000
      else if (k == 1) s = substr(b, 1, 8) "13" substr(b, 11)  # month 13
      else if (k == 2) s = substr(b, 1, 6) "35" substr(b, 9)   # day 35
      else if (k == 3) s = "10" substr(b, 3)                   # province 10 does not exist
      else s = substr(b, 1, 2) "00" substr(b, 5)               # regency 00
    } while (s in seen)
    seen[s] = 1
    out[++m] = s "\tinvalid"
  }
  for (i = m; i > 1; i--) {
    j = 1 + rnd(i)
    t = out[i]; out[i] = out[j]; out[j] = t
  }
  for (i = 1; i <= m; i++) print out[i]
}
