-- Tổng cục Thuế: đăng ký thuế cá nhân (individual taxpayer registrations).
CREATE SCHEMA IF NOT EXISTS thue;

CREATE TABLE thue.nguoi_nop_thue (
    ma_so_thue        varchar(13) PRIMARY KEY,   -- 10-digit personal tax code (or the CCCD since 2025)
    so_dinh_danh      varchar(12) NOT NULL,      -- CCCD, or legacy 9-digit CMND
    ho_ten            text        NOT NULL,
    ngay_sinh         date        NOT NULL,
    gioi_tinh         text        NOT NULL CHECK (gioi_tinh IN ('Nam', 'Nữ')),
    dia_chi           text,
    ma_co_quan_thue   varchar(5)  NOT NULL,      -- managing tax office
    trang_thai        text        NOT NULL,      -- Đang hoạt động / Tạm ngừng hoạt động / Chấm dứt hiệu lực MST
    ngay_dang_ky      date        NOT NULL
);
ALTER TABLE thue.nguoi_nop_thue REPLICA IDENTITY FULL; -- deletes carry the whole row
