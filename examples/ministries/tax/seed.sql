INSERT INTO thue.nguoi_nop_thue VALUES
  ('8012345678', '001090012345', 'Nguyễn Văn An',  '1990-03-14', 'Nam', 'Số 5 ngõ 12 phố Đội Cấn, Hà Nội', '10101', 'Đang hoạt động',        '2012-08-01'),
  ('8023456789', '001185004321', 'Trần Thị Bình',  '1985-11-02', 'Nữ',  NULL,                              '10101', 'Tạm ngừng hoạt động',   '2010-02-17'),
  ('8034567890', '034072009876', 'Phạm Văn Cường', '1972-07-30', 'Nam', 'Thôn Đông, xã Vũ Thắng, Hưng Yên', '34103', 'Chấm dứt hiệu lực MST', '2008-05-05'),
  ('034072009876', '034072009876', 'Phạm Văn Cường', '1972-07-30', 'Nam', 'Thôn Đông, xã Vũ Thắng, Hưng Yên', '34103', 'Đang hoạt động',     '2025-07-01');
