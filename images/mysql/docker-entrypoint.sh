#!/bin/bash
# Entrypoint of the MySQL stand-in: the official mysql image's contract, kept small.
set -euo pipefail

log() { echo "[entrypoint] $*" >&2; }

# file_env VAR: take VAR from VAR or VAR_FILE (not both), as the official image does.
file_env() {
	local var=$1 file_var="${1}_FILE" value="${2:-}"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		log "both $var and $file_var are set (but are exclusive)"; exit 1
	fi
	if [ -n "${!var:-}" ]; then value="${!var}"
	elif [ -n "${!file_var:-}" ]; then value="$(<"${!file_var}")"
	fi
	export "$var"="$value"
	unset "$file_var"
}

sql_escape() { printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g"; }

init_database() {
	file_env MYSQL_ROOT_PASSWORD
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
		log "database is uninitialized and MYSQL_ROOT_PASSWORD is not set"
		log "set MYSQL_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD_FILE or MYSQL_ALLOW_EMPTY_PASSWORD"
		exit 1
	fi
	log "initializing database files"
	mysqld --initialize-insecure --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1 \
		|| { mysqld --initialize-insecure --user=mysql --datadir=/var/lib/mysql; exit 1; }
	# A temporary server without networking, so nothing can connect before init is done.
	mysqld --user=mysql --skip-networking --socket=/run/mysqld/init.sock --mysqlx=OFF &
	local pid=$!
	local client=(mysql --protocol=socket --socket=/run/mysqld/init.sock -uroot)
	for _ in $(seq 120); do "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.25; done
	local root_pw; root_pw=$(sql_escape "$MYSQL_ROOT_PASSWORD")
	"${client[@]}" <<-SQL
		CREATE USER 'root'@'%' IDENTIFIED BY '${root_pw}';
		GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${root_pw}';
		FLUSH PRIVILEGES;
	SQL
	export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
	if [ -n "$MYSQL_DATABASE" ]; then
		"${client[@]}" -e "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		local user_pw; user_pw=$(sql_escape "$MYSQL_PASSWORD")
		"${client[@]}" -e "CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '${user_pw}'"
		if [ -n "$MYSQL_DATABASE" ]; then
			"${client[@]}" -e "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%'"
		fi
	fi
	local db_args=(); [ -n "$MYSQL_DATABASE" ] && db_args=("$MYSQL_DATABASE")
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)     log "running $f"; . "$f" ;;
			*.sql)    log "running $f"; "${client[@]}" "${db_args[@]}" < "$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" "${db_args[@]}" ;;
			*)        [ -e "$f" ] && log "ignoring $f" ;;
		esac
	done
	kill "$pid"; wait "$pid" || true
	unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MYSQL_PWD
	log "init done; starting the server"
}

if [ "${1:0:1}" = - ]; then set -- mysqld "$@"; fi
if [ "${1:-}" = mysqld ]; then
	shift
	if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql /var/lib/mysql /run/mysqld; fi
	if [ ! -d /var/lib/mysql/mysql ]; then init_database; fi
	exec mysqld --user=mysql "$@"
fi
exec "$@"
