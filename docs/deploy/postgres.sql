-- The bot's role and database. As the PostgreSQL superuser:
--   sudo -u postgres psql -v password='the password in DATABASE_URL' -f docs/deploy/postgres.sql
CREATE ROLE shangbao LOGIN PASSWORD :'password';
CREATE DATABASE shangbao OWNER shangbao ENCODING 'UTF8' TEMPLATE template0;
