-- Run once by the postgres image on an empty volume: one database per service.
CREATE DATABASE intake;
CREATE DATABASE dispatch;
CREATE DATABASE scoring;
CREATE DATABASE notify;
