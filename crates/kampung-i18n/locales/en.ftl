# English catalogue of the kampung node. Keep it in step with id.ftl: every
# message here has one there, with the same arguments (a test checks).

## Verdicts: a title (the big word an officer reads) and a detail line.
verdict-line = { $title }: { $detail }
verdict-resident-title = RESIDENT
verdict-resident-detail = { $name }, registered in { $village } ({ $code }), district { $district }; { $copy }.
verdict-resident_under_isolation-title = UNDER ISOLATION
verdict-resident_under_isolation-detail = { $name } has open isolation case { $case }, placed at { $place }. Send back there.
verdict-someone = this person
verdict-moved_out-title = MOVED OUT
verdict-moved_out-detail = { $name } was registered in { $village } ({ $code }) and moved to { $destination }; not a resident. { $requirement } ({ $copy }).
verdict-unrecorded-place = an unrecorded place
verdict-deceased-title = ALERT, DECEASED
verdict-deceased-detail = the registry of { $village } ({ $code }) records { $name } as deceased. This KTP should not be in use.
verdict-deceased-case = Isolation case { $case } is open on this NIK ({ $place }).
verdict-non_resident-title = NOT A RESIDENT
verdict-non_resident-detail = not in the Banyuwangi registry; the NIK was issued in { $origin }. { $requirement }.
verdict-barred-title = BARRED
verdict-barred-detail = not a Banyuwangi resident, and the NIK was issued in { $origin }, in { $region_name } ({ $region }), a region the policy bars. Turn back.
verdict-invalid-title = INVALID NIK
verdict-invalid-detail = { $reason }.
verdict-warning = Warning: { $text }.
origin = { $regency }, { $province } ({ $code })
requirement-none = Policy: no isolation required
requirement-days = Policy: isolate { $days ->
    [one] 1 day
   *[other] { $days } days
} (GOR, village house or home)
copy-age = our copy of { $village } is { $age } old
copy-never = we have never heard from { $village }'s node, our copy may be out of date

## Ages: how long ago, for freshness.
age-seconds = { $n } s
age-minutes = { $n } min
age-hours = { $n } h
age-days = { $n } days
ago = { $age } ago
never = never

## Places of isolation.
place-gor = GOR Tawangalun
place-village_house = the isolation house of { $village } ({ $code })
place-home = home isolation at { $address }
place-family_pickup = the care of { $name } ({ $relation }, { $phone }) under a signed pledge
unknown-village = (unknown village)

## The rules of a NIK (why one is invalid), and warnings.
nik-empty = the NIK is empty
nik-not_a_digit = character '{ $ch }' at position { $position } is not a digit (a NIK has only digits; spaces, dots and dashes are ignored)
nik-length = a NIK has 16 digits, this one has { $found }
nik-unknown_province = province code { $code } (digits 1-2) does not exist
nik-regency_out_of_range = regency code { $code } (digits 3-4) is neither a kabupaten (01-69) nor a kota (71-99)
nik-unknown_regency = regency { $province }.{ $regency } (digits 1-4) does not exist in { $province_name }
nik-bad_day = birth day { $day } (digits 7-8) is neither 01-31 (men) nor 41-71 (women, day + 40)
nik-bad_month = birth month { $month } (digits 9-10) is not 01-12
nik-impossible_date = birth date { $date } (digits 7-12) does not exist
nik-serial_zero = serial number 0000 is not issued (the last 4 digits start at 0001)
nik-digits-typed = { $n } of 16 digits
warning-unknown_district = district { $district } (digits 5-6) is not a current district of { $regency }; it may predate a split
warning-birth_date_differs = the NIK says born { $nik }, the registry says { $registry }
warning-sex_differs = the NIK says { $nik }, the registry says { $registry }
sex-L = male (L)
sex-P = female (P)

## Errors of the API and the pages, by their stable code.
error-invalid_nik = The NIK is not valid.
error-invalid_village = That is not one of Banyuwangi's villages.
error-invalid_parameter = A value in the address is not valid.
error-invalid_body = What was sent is not complete or not valid.
error-body_too_large = What was sent is too large.
error-unsupported_media_type = What was sent is not in a form this node reads.
error-not_found = There is no such page or route.
error-method_not_allowed = This page does not take that kind of request.
error-not_registered = This NIK is not in the registry.
error-not_a_village_node = Only a village office node writes residents.
error-role_not_allowed = This node's role may not do this.
error-case_not_found = There is no such isolation case on this node.
error-case_open = This person already has an open isolation case.
error-case_exists = An isolation case with this id exists already.
error-invalid_statement = This is not a statement file of the regency administrator.
error-not_signed_by_root = This statement is not signed by this mesh's root key.
error-no_root = This node has no root key configured.
error-refused = The node refused the change.
error-store = The node's store failed.
error-timeout = The node did not answer in time.
error-shutting_down = The node is shutting down.
error-unauthenticated = Please sign in first.
error-forbidden = Your role may not do this.
error-wrong_credentials = The user name or the password is wrong.
error-account_locked = This account is locked after too many failed sign-ins: ask the node's operator to unlock it.
error-too_many_attempts = Too many failed sign-ins: wait a moment and try again.
error-conflict = Something with this name exists already.
error-misdirected_host = This node does not answer for that address.
error-cross_site = A request from another site is refused.
error-no_such_account = There is no such account on this node.
error-no_such_token = There is no such token on this node.
error-other = Something went wrong.

## Dates and times.
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
date-long = { $day } { $month } { $year }
date-time = { $date }, { $hour }:{ $minute } WIB
