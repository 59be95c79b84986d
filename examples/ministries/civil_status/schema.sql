-- Cơ sở dữ liệu hộ tịch điện tử: đăng ký khai sinh (birth registrations).
CREATE SCHEMA IF NOT EXISTS ho_tich;

CREATE TABLE ho_tich.dang_ky_khai_sinh (
    so_dang_ky          varchar(16) PRIMARY KEY,  -- quyển/năm/số, e.g. 001/2024/1234
    so_dinh_danh_tre    char(12)    NOT NULL,     -- personal number given at registration
    ho_ten_tre          text        NOT NULL,
    ngay_sinh_tre       date        NOT NULL,
    gioi_tinh_tre       text        NOT NULL CHECK (gioi_tinh_tre IN ('Nam', 'Nữ')),
    ma_tinh_noi_sinh    char(3)     NOT NULL,
    so_dinh_danh_me     char(12),
    ho_ten_me           text        NOT NULL,
    ho_ten_cha          text,
    ngay_dang_ky        date        NOT NULL,
    can_bo_tu_phap      text                      -- registrar (not shared)
);
