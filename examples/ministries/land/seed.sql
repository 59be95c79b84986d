INSERT INTO dat_dai.giay_chung_nhan (so_giay_chung_nhan, so_hieu_thua, ma_tinh, dia_chi_thua_dat, dien_tich, muc_dich_su_dung, so_dinh_danh_chu, ho_ten_chu, ngay_sinh_chu, ngay_cap) VALUES
  ('CS012345', '12/345', '001', 'Số 5 ngõ 12 phố Đội Cấn, phường Ngọc Hà, Hà Nội', 68.50,  'ODT', '001090012345', 'Nguyễn Văn An',   '1990-03-14', '2019-06-20'),
  ('CS012346', '12/346', '001', 'Số 7 ngõ 12 phố Đội Cấn, phường Ngọc Hà, Hà Nội', 72.00,  'ODT', '001185004321', 'Trần Thị Bình',   '1985-11-02', '2020-01-15'),
  ('DA000781', '4/78', '034', 'Thôn Đông, xã Vũ Thắng, tỉnh Hưng Yên',           1250.00, 'LUC', '034072009876', 'Phạm Văn Cường',  '1972-07-30', '2015-09-01'),
  ('DA000782', '4/79', '034', 'Thôn Đông, xã Vũ Thắng, tỉnh Hưng Yên',           310.40,  'ONT', '151234567',    'Lê Thị Dung',     '1968-02-11', '2003-04-22');
