#!/bin/bash
# Entrypoint of the MariaDB stand-in: the official mysql image's contract, kept small.
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
	mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve >/dev/null
	# A temporary server without networking, so nothing can connect before init is done.
	mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
	local pid=$!
	local client=(mariadb --protocol=socket --socket=/run/mysqld/init.sock -uroot)
	for _ in $(seq 60); do "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
	local root_pw; root_pw=$(sql_escape "$MYSQL_ROOT_PASSWORD")
	"${client[@]}" <<-SQL
		DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));
		DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost');
		CREATE USER 'root'@'%' IDENTIFIED BY '${root_pw}';
		GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${root_pw}';
		FLUSH PRIVILEGES;
	SQL
	client+=(-p"$MYSQL_ROOT_PASSWORD")
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
	unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD
	log "init done; starting the server"
}

if [ "${1:-}" = mysqld ] || [ "${1:-}" = mariadbd ]; then
	shift
	if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql /var/lib/mysql /run/mysqld; fi
	if [ ! -d /var/lib/mysql/mysql ]; then init_database; fi
	exec mariadbd --user=mysql "$@"
fi
exec "$@"
