#!/bin/sh
# Run by `invoke rekey` in a one-off container of the db service (its image, volume and
# secrets, its own entrypoint bypassed, nothing published): start the server on the existing
# data without networking or grant checks, set each user's password to the password files,
# stop it. No table but the grant tables is touched.
set -eu
sock=/tmp/rekey.sock
server=$(command -v mysqld || command -v mariadbd)
client=$(command -v mysql || command -v mariadb)
"$server" --user=mysql --skip-grant-tables --skip-networking --socket="$sock" --pid-file=/tmp/rekey.pid >/tmp/rekey.log 2>&1 &
pid=$!
ready=""
for _ in $(seq 120); do
	if "$client" --protocol=socket --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then ready=1; break; fi
	if ! kill -0 "$pid" 2>/dev/null; then break; fi
	sleep 0.5
done
if [ -z "$ready" ]; then
	echo "rekey: the database server did not start on this volume:" >&2
	tail -n 5 /tmp/rekey.log >&2
	exit 1
fi
esc() { sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g" "$1"; }
root_pw=$(esc "$MYSQL_ROOT_PASSWORD_FILE")
app_pw=$(esc "$MYSQL_PASSWORD_FILE")
"$client" --protocol=socket --socket="$sock" -uroot <<SQL
FLUSH PRIVILEGES;
ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY '$root_pw';
ALTER USER IF EXISTS 'root'@'%' IDENTIFIED BY '$root_pw';
ALTER USER IF EXISTS '$MYSQL_USER'@'%' IDENTIFIED BY '$app_pw';
SQL
kill "$pid"
wait "$pid" || true
echo "rekey: root and $MYSQL_USER now use the passwords in the secret files"
