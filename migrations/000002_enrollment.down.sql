DROP TABLE fleet_ca;
DROP TABLE certificates;
DROP TABLE activation_codes;
