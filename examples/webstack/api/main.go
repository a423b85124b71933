// Command api is the example stack's HTTP service: it answers /api/items
// with rows read from PostgreSQL, and `api migrate` creates and seeds the
// table (the stack's one-shot migration job). Standard library plus the
// lib/pq driver only, built statically (CGO_ENABLED=0).
//
// Configuration comes from the environment: DATABASE_URL (default
// postgres://postgres@db:5432/postgres?sslmode=disable) and LISTEN
// (default :8080).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/lib/pq"
)

func main() {
	log.SetFlags(0)
	dsn := env("DATABASE_URL", "postgres://postgres@db:5432/postgres?sslmode=disable")
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		log.Fatalf("api: %v", err)
	}
	defer db.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		// The image has no curl: the binary checks itself (compose
		// healthcheck `/api healthcheck`).
		if err := healthcheck(ctx, env("LISTEN", ":8080")); err != nil {
			log.Fatalf("healthcheck: %v", err)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		if err := migrate(ctx, db); err != nil {
			log.Fatalf("migrate: %v", err)
		}
		return
	}
	if err := serve(ctx, db, env("LISTEN", ":8080")); err != nil {
		log.Fatalf("api: %v", err)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// migrate creates the items table and seeds it once. It is idempotent:
// running it again (every `up` runs the job) changes nothing.
func migrate(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS items (
			id serial PRIMARY KEY,
			name text NOT NULL UNIQUE,
			created_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO items (name) VALUES ('berth'), ('compose'), ('postgres')
			ON CONFLICT (name) DO NOTHING`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&n); err != nil {
		return err
	}
	log.Printf("migrate: table items ready with %d rows", n)
	return nil
}

// healthcheck asks the running API's /api/health (which pings the
// database) and fails unless it answers 200.
func healthcheck(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	host := addr
	if len(host) > 0 && host[0] == ':' {
		host = "127.0.0.1" + host
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/api/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

type item struct {
	ID        int       `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func serve(ctx context.Context, db *sql.DB, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		if err := db.PingContext(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		items, err := list(r.Context(), db)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(items)
	})
	mux.HandleFunc("POST /api/items", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			http.Error(w, "name is required", http.StatusBadRequest)
			return
		}
		var it item
		err := db.QueryRowContext(r.Context(),
			`INSERT INTO items (name) VALUES ($1) RETURNING id, name, created_at`, name).Scan(&it.ID, &it.Name, &it.CreatedAt)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(it)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("api: listening on %s", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func list(ctx context.Context, db *sql.DB) ([]item, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, name, created_at FROM items ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []item{}
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.ID, &it.Name, &it.CreatedAt); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}
