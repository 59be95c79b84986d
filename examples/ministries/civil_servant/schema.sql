-- Cơ sở dữ liệu quốc gia về cán bộ, công chức, viên chức.
CREATE SCHEMA IF NOT EXISTS can_bo;

CREATE TABLE can_bo.ho_so_can_bo (
    ma_can_bo         varchar(10)  PRIMARY KEY,   -- CB + 8 digits
    so_dinh_danh      varchar(12)  NOT NULL,
    ho_ten            text         NOT NULL,
    ngay_sinh         date         NOT NULL,
    gioi_tinh         text         NOT NULL CHECK (gioi_tinh IN ('Nam', 'Nữ')),
    ma_co_quan        varchar(20)  NOT NULL,      -- employing agency
    chuc_vu           text         NOT NULL,
    he_so_luong       numeric(4,2) NOT NULL,      -- salary coefficient
    ngay_tuyen_dung   date         NOT NULL,
    ngay_cap_nhat     timestamptz  NOT NULL DEFAULT clock_timestamp()
);
