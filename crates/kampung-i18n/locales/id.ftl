# Katalog Bahasa Indonesia node kampung (bahasa utama). Setiap pesan di
# en.ftl ada di sini, dengan argumen yang sama (diperiksa oleh tes).

## Putusan pemeriksaan: judul (kata besar yang dibaca petugas) dan rincian.
verdict-line = { $title } — { $detail }
verdict-resident-title = WARGA BANYUWANGI
verdict-resident-detail = { $name }, { $village } ({ $code }), Kec. { $district }. { $copy }.
verdict-resident_under_isolation-title = SEDANG ISOLASI
verdict-resident_under_isolation-detail = { $name } punya kasus isolasi terbuka { $case }: kembalikan ke { $place }.
verdict-someone = orang ini
verdict-moved_out-title = SUDAH PINDAH
verdict-moved_out-detail = { $name } terdaftar di { $village } ({ $code }) dan pindah ke { $destination }. Bukan warga lagi. { $requirement } ({ $copy }).
verdict-unrecorded-place = tempat yang tidak tercatat
verdict-deceased-title = PERINGATAN: MENINGGAL DUNIA
verdict-deceased-detail = KTP ini atas nama { $name }, warga { $village } ({ $code }) yang telah meninggal dunia. Laporkan ke atasan.
verdict-deceased-case = Kasus isolasi { $case } terbuka atas NIK ini ({ $place }).
verdict-non_resident-title = BUKAN WARGA BANYUWANGI
verdict-non_resident-detail = Tidak ada dalam data kependudukan Banyuwangi; NIK diterbitkan di { $origin }. { $requirement }.
verdict-barred-title = DILARANG MASUK
verdict-barred-detail = Bukan warga Banyuwangi, dan NIK diterbitkan di { $origin }, wilayah { $region_name } ({ $region }) yang dilarang masuk oleh kebijakan yang berlaku. Putar balik.
verdict-invalid-title = NIK TIDAK VALID
verdict-invalid-detail = { $reason }.
verdict-warning = Perhatian: { $text }.
origin = { $regency }, { $province } ({ $code })
requirement-none = Kebijakan: tidak wajib isolasi
requirement-days = Wajib isolasi { $days } hari: GOR, rumah isolasi desa, atau di rumah
copy-age = data { $village } diperbarui { $age } lalu
copy-never = node { $village } belum pernah terhubung, data mungkin belum terbaru

## Lama waktu, untuk kesegaran data.
age-seconds = { $n } detik
age-minutes = { $n } menit
age-hours = { $n } jam
age-days = { $n } hari
ago = { $age } lalu
never = belum pernah

## Tempat isolasi.
place-gor = GOR Tawangalun
place-village_house = rumah isolasi desa { $village } ({ $code })
place-home = isolasi mandiri di rumah, { $address }
place-family_pickup = dijemput keluarga: { $name } ({ $relation }, { $phone }), dengan surat pernyataan kesanggupan isolasi
unknown-village = (desa tidak dikenal)

## Aturan NIK (mengapa tidak valid) dan peringatan.
nik-empty = NIK kosong
nik-not_a_digit = karakter '{ $ch }' pada posisi { $position } bukan angka (NIK hanya berisi angka; spasi, titik dan tanda hubung diabaikan)
nik-length = NIK harus 16 angka, ini { $found } angka
nik-unknown_province = kode provinsi { $code } (angka 1-2) tidak ada
nik-regency_out_of_range = kode kabupaten/kota { $code } (angka 3-4) bukan kabupaten (01-69) maupun kota (71-99)
nik-unknown_regency = kabupaten/kota { $province }.{ $regency } (angka 1-4) tidak ada di { $province_name }
nik-bad_day = tanggal lahir { $day } (angka 7-8) bukan 01-31 (laki-laki) atau 41-71 (perempuan, tanggal + 40)
nik-bad_month = bulan lahir { $month } (angka 9-10) bukan 01-12
nik-impossible_date = tanggal lahir { $date } (angka 7-12) tidak ada
nik-serial_zero = nomor urut 0000 tidak pernah diterbitkan (4 angka terakhir mulai dari 0001)
nik-digits-typed = { $n } dari 16 angka
warning-unknown_district = kecamatan { $district } (angka 5-6) bukan kecamatan { $regency } saat ini; mungkin kode sebelum pemekaran
warning-birth_date_differs = menurut NIK lahir { $nik }, menurut data kependudukan { $registry }
warning-sex_differs = menurut NIK { $nik }, menurut data kependudukan { $registry }
sex-L = laki-laki (L)
sex-P = perempuan (P)

## Pesan galat API dan halaman, menurut kodenya yang tetap.
error-invalid_nik = NIK tidak valid.
error-invalid_village = Itu bukan salah satu desa/kelurahan di Banyuwangi.
error-invalid_parameter = Ada nilai pada alamat yang tidak valid.
error-invalid_body = Data yang dikirim tidak lengkap atau tidak valid.
error-body_too_large = Data yang dikirim terlalu besar.
error-unsupported_media_type = Data yang dikirim tidak dalam bentuk yang dibaca node ini.
error-not_found = Halaman atau rute itu tidak ada.
error-method_not_allowed = Halaman ini tidak menerima permintaan seperti itu.
error-not_registered = NIK ini tidak ada dalam data kependudukan.
error-not_a_village_node = Hanya node kantor desa yang menulis data warga.
error-role_not_allowed = Peran node ini tidak boleh melakukan hal ini.
error-case_not_found = Kasus isolasi itu tidak ada di node ini.
error-case_open = Orang ini sudah punya kasus isolasi yang terbuka.
error-case_exists = Kasus isolasi dengan nomor ini sudah ada.
error-invalid_statement = Ini bukan berkas pernyataan dari administrator kabupaten.
error-not_signed_by_root = Pernyataan ini tidak ditandatangani kunci induk jaringan ini.
error-no_root = Node ini belum punya kunci induk.
error-refused = Node menolak perubahan ini.
error-store = Penyimpanan node gagal.
error-timeout = Node tidak menjawab tepat waktu.
error-shutting_down = Node sedang dimatikan.
error-unauthenticated = Silakan masuk terlebih dahulu.
error-forbidden = Peran Anda tidak boleh melakukan hal ini.
error-wrong_credentials = Nama pengguna atau kata sandi salah.
error-account_locked = Akun ini dikunci setelah terlalu banyak gagal masuk: minta operator node membukanya.
error-too_many_attempts = Terlalu banyak gagal masuk: tunggu sebentar lalu coba lagi.
error-conflict = Sudah ada yang bernama sama.
error-misdirected_host = Node ini tidak melayani alamat itu.
error-cross_site = Permintaan dari situs lain ditolak.
error-no_such_account = Akun itu tidak ada di node ini.
error-no_such_token = Token itu tidak ada di node ini.
error-other = Terjadi kesalahan.

## Tanggal dan waktu.
month-1 = Januari
month-2 = Februari
month-3 = Maret
month-4 = April
month-5 = Mei
month-6 = Juni
month-7 = Juli
month-8 = Agustus
month-9 = September
month-10 = Oktober
month-11 = November
month-12 = Desember
date-long = { $day } { $month } { $year }
date-time = { $date }, { $hour }.{ $minute } WIB
