INSERT INTO can_bo.ho_so_can_bo (ma_can_bo, so_dinh_danh, ho_ten, ngay_sinh, gioi_tinh, ma_co_quan, chuc_vu, he_so_luong, ngay_tuyen_dung) VALUES
  ('CB00000001', '001090012345', 'Nguyễn Văn An',  '1990-03-14', 'Nam', 'H01.UBND', 'Chuyên viên',            3.33, '2014-09-01'),
  ('CB00000002', '001185004321', 'Trần Thị Bình',  '1985-11-02', 'Nữ',  'H01.STP',  'Phó Giám đốc Sở',        5.76, '2008-03-15'),
  ('CB00000003', '034072009876', 'Phạm Văn Cường', '1972-07-30', 'Nam', 'H34.SNV',  'Trưởng phòng',           4.98, '1996-10-01'),
  ('CB00000004', '151234567',    'Lê Thị Dung',    '1968-02-11', 'Nữ',  'H34.UBND', 'Văn thư',                2.67, '1990-05-20');
