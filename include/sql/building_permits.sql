-- Building permits issued since 2019, as published (no applicant or owner names).
SELECT
    permit_nbr,
    permit_type,
    permit_sub_type,
    status,
    issue_date,
    valuation,
    square_footage,
    work_description,
    address,
    zip_code,
    council_district,
    contractor,
    latitude,
    longitude
FROM building_permits
ORDER BY permit_nbr
