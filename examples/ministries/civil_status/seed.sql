INSERT INTO ho_tich.dang_ky_khai_sinh VALUES
  ('001/2024/1234', '001224001122', 'Nguyễn Minh Khang', '2024-02-10', 'Nam', '001', '001195007788', 'Đỗ Thị Hoa',   'Nguyễn Văn An', '2024-02-15', 'Vũ Văn Tú'),
  ('001/2024/1235', '001324003344', 'Trần Bảo Ngọc',     '2024-03-01', 'Nữ',  '001', '001185004321', 'Trần Thị Bình', NULL,           '2024-03-05', 'Vũ Văn Tú'),
  ('034/2025/77',   '034225000551', 'Phạm Gia Huy',      '2025-01-20', 'Nam', '034', NULL,           'Lê Thị Mai',    'Phạm Văn Đức', '2025-01-28', 'Ngô Thị Lan');
