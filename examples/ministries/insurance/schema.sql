-- Bảo hiểm xã hội Việt Nam: thẻ bảo hiểm y tế (health insurance cards).
-- A legacy database without logical replication: polled by ngay_cap_nhat.
CREATE SCHEMA IF NOT EXISTS bao_hiem;

CREATE TABLE bao_hiem.the_bhyt (
    ma_the          varchar(15) PRIMARY KEY,    -- e.g. TE1790000123456 (TE: child under 6)
    so_dinh_danh    varchar(12) NOT NULL,
    ho_ten          text        NOT NULL,
    ngay_sinh       date        NOT NULL,
    gioi_tinh       smallint    NOT NULL CHECK (gioi_tinh IN (1, 2)), -- 1 nam, 2 nữ
    ma_doi_tuong    char(2)     NOT NULL,       -- beneficiary group: TE, HS, GD, DN, HT, …
    muc_huong       smallint    NOT NULL CHECK (muc_huong BETWEEN 1 AND 5),
    ma_kcb_bd       varchar(5)  NOT NULL,       -- nơi đăng ký khám chữa bệnh ban đầu
    tu_ngay         date        NOT NULL,
    den_ngay        date        NOT NULL,
    ngay_cap_nhat   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON bao_hiem.the_bhyt (ngay_cap_nhat, ma_the);

-- Keep ngay_cap_nhat growing on every change, so the poller sees it.
CREATE FUNCTION bao_hiem.dat_ngay_cap_nhat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.ngay_cap_nhat := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER the_bhyt_cap_nhat BEFORE INSERT OR UPDATE ON bao_hiem.the_bhyt
    FOR EACH ROW EXECUTE FUNCTION bao_hiem.dat_ngay_cap_nhat();
