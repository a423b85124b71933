package volumes_test

import (
	"strings"
	"testing"
)

const postgresStack = `
services:
  db:
    image: 127.0.0.1:5000/debian-pg:15
    user: postgres
    command: [/usr/lib/postgresql/15/bin/postgres, -D, /var/lib/postgresql/15/main, -c, config_file=/etc/postgresql/15/main/postgresql.conf]
    volumes: ["pgdata:/var/lib/postgresql"]
    healthcheck:
      test: [CMD, /usr/lib/postgresql/15/bin/pg_isready, -h, /var/run/postgresql]
      interval: 1s
      timeout: 5s
      retries: 60
volumes:
  pgdata: {}
`

// TestE2EPostgresKeepsRows is the "done when": a real PostgreSQL
// keeps its rows across down and up, and loses them only with down -v.
func TestE2EPostgresKeepsRows(t *testing.T) {
	s := newStack(t, "", "pg"+randHex(3), postgresStack)
	psql := func(sql string) (string, error) {
		return s.run("exec", "-T", "db", "/usr/lib/postgresql/15/bin/psql", "-h", "/var/run/postgresql",
			"-U", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc", sql)
	}
	mustPsql := func(sql string) string {
		t.Helper()
		out, err := psql(sql)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}

	s.must("up", "-d", "--wait")
	mustPsql("CREATE TABLE berth_rows (n int); INSERT INTO berth_rows VALUES (42), (7)")

	s.must("down")
	s.must("up", "-d", "--wait")
	if got := mustPsql("SELECT sum(n) FROM berth_rows"); got != "49" {
		t.Fatalf("after down and up: sum = %q, want 49", got)
	}
	s.must("up", "-d", "--wait", "--force-recreate")
	if got := mustPsql("SELECT count(*) FROM berth_rows"); got != "2" {
		t.Fatalf("after up --force-recreate: count = %q, want 2", got)
	}

	s.must("down", "-v")
	s.must("up", "-d", "--wait")
	_, err := psql("SELECT count(*) FROM berth_rows")
	if err == nil || !strings.Contains(err.Error(), `relation "berth_rows" does not exist`) {
		t.Fatalf("after down -v the rows must be gone: %v", err)
	}
}
