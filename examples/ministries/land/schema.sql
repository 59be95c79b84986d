-- Sở Tài nguyên và Môi trường: sổ địa chính, giấy chứng nhận quyền sử dụng đất.
-- A provincial land registry's certificates (so do / so hong) and holders.
CREATE SCHEMA IF NOT EXISTS dat_dai;

CREATE TABLE dat_dai.giay_chung_nhan (
    so_giay_chung_nhan  varchar(8)    PRIMARY KEY,           -- series + number, e.g. CS012345
    so_hieu_thua        varchar(32)   NOT NULL,              -- map sheet / parcel number, e.g. 12/345
    ma_tinh             char(3)       NOT NULL,              -- province code
    dia_chi_thua_dat    text          NOT NULL,
    dien_tich           numeric(14,2) NOT NULL CHECK (dien_tich > 0), -- m²
    muc_dich_su_dung    varchar(3)    NOT NULL,              -- ONT, ODT, LUC, CLN, RSX, SKC, TMD
    so_dinh_danh_chu    varchar(12)   NOT NULL,              -- holder's CCCD (or legacy 9-digit CMND)
    ho_ten_chu          text          NOT NULL,
    ngay_sinh_chu       date          NOT NULL,
    ngay_cap            date          NOT NULL,
    ngay_cap_nhat       timestamptz   NOT NULL DEFAULT clock_timestamp()
);
