package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
)

// classifier is the calibration in force for one embedding model.
type classifier struct {
	model   string
	version string
	cal     models.Calibration
	trained bool
}

func untrainedClassifier(model string) classifier {
	return classifier{model: model, version: "knn-untrained", cal: models.Calibration{Method: models.CalibrationNone}}
}

// Classification is the classifier's answer for one exception.
type Classification struct {
	// Cause is the winning cause; "" when no labelled example was found.
	Cause string `json:"cause"`
	// Score is the cause's share of the similarity-weighted vote.
	Score float64 `json:"score"`
	// Confidence is Score calibrated, the probability that Cause is right
	// among the known causes, scaled down by how unlike the known examples
	// the exception is.
	Confidence float64 `json:"confidence"`
	// TopSimilarity is the cosine similarity of the nearest example.
	TopSimilarity float64 `json:"top_similarity"`
	// Nearness and Support are the out-of-distribution factors Confidence
	// was scaled by (see outOfDistribution): 1 for an exception like the
	// known examples, 0 for one unlike all of them.
	Nearness float64 `json:"nearness"`
	Support  float64 `json:"support"`
	// Votes is every cause's share of the vote.
	Votes      map[string]float64 `json:"votes"`
	Neighbours []Neighbour        `json:"neighbours"`
	Search     KNNSearch          `json:"search"`
	Version    string             `json:"version"`
}

// classify finds vec's cause among the labelled examples of kind.
func (s *Service) classify(ctx context.Context, vec []float32, kind string) (Classification, error) {
	neigh, search, err := s.neighbours(ctx, vec, kind)
	if err != nil {
		return Classification{}, err
	}
	s.mu.RLock()
	cls := s.cls
	s.mu.RUnlock()
	c := Classification{Neighbours: neigh, Search: search, Version: cls.version}
	if len(neigh) == 0 {
		return c, nil
	}
	votes := make([]models.Neighbor, len(neigh))
	for i, n := range neigh {
		votes[i] = models.Neighbor{Label: n.Cause, Similarity: n.Similarity}
	}
	c.Cause, c.Score, c.Votes = models.Vote(votes, s.vote)
	c.Confidence = cls.cal.Calibrate(c.Score)
	c.TopSimilarity = neigh[0].Similarity
	return c, nil
}

// ClassifierReport says how a calibration was fitted.
type ClassifierReport struct {
	Model    string `json:"model"`
	Version  string `json:"version"`
	Method   string `json:"method"`
	Examples int    `json:"examples"`
	Causes   int    `json:"causes"`
	Folds    int    `json:"folds"`
	// CVAccuracy is the share of examples whose cause the other folds'
	// examples voted for, with the same kind restriction as the service.
	CVAccuracy float64 `json:"cv_accuracy"`
	// CVMacroF1 is the macro-averaged F1 of the same predictions.
	CVMacroF1 float64 `json:"cv_macro_f1"`
}

// calibrationFolds is the number of cross-validation folds; each cause has
// at least five seeded examples.
const calibrationFolds = 5

// TrainClassifier fits the confidence calibration of the embedder's model:
// every labelled example is classified by the examples of the other folds
// (restricted to its kind, as in service), and Platt scaling is fitted
// from those held-out vote shares to whether the vote was right. The
// result is stored and put in force.
func (s *Service) TrainClassifier(ctx context.Context) (_ ClassifierReport, err error) {
	model := s.emb.Model()
	defer derrors.Wrap(&err, "TrainClassifier(%q)", model)
	rows, err := s.pool.Query(ctx, `SELECT example_id, cause, kind, embedding FROM example_embeddings WHERE model = $1 ORDER BY example_id`, model)
	if err != nil {
		return ClassifierReport{}, err
	}
	type row struct {
		id          int64
		cause, kind string
		vec         []float32
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		var v pgvector.Vector
		err := r.Scan(&x.id, &x.cause, &x.kind, &v)
		x.vec = v.Slice()
		return x, err
	})
	if err != nil {
		return ClassifierReport{}, err
	}
	if len(all) < calibrationFolds*2 {
		return ClassifierReport{}, fmt.Errorf("%d labelled examples embedded with %s, need at least %d: seed causes first: %w",
			len(all), model, calibrationFolds*2, derrors.Invalid)
	}
	labels := make([]string, len(all))
	for i, x := range all {
		labels[i] = x.cause
	}
	folds, err := models.StratifiedFolds(labels, calibrationFolds, rand.New(rand.NewPCG(5, 0x7219)))
	if err != nil {
		return ClassifierReport{}, err
	}
	byKind := map[string][]int{}
	for i, x := range all {
		byKind[x.kind] = append(byKind[x.kind], i)
	}
	pred := make([]string, len(all))
	scores := make([]float64, len(all))
	correct := make([]bool, len(all))
	for _, idx := range byKind {
		vecs := make([][]float32, len(idx))
		ls := make([]string, len(idx))
		fs := make([]int, len(idx))
		for j, i := range idx {
			vecs[j], ls[j], fs[j] = all[i].vec, labels[i], folds[i]
		}
		res, err := models.CrossValidateVotes(vecs, ls, fs, s.vote.K, s.vote)
		if err != nil {
			return ClassifierReport{}, err
		}
		for j, i := range idx {
			pred[i], scores[i], correct[i] = res[j].Label, res[j].Score, res[j].Label == labels[i]
		}
	}
	cal, err := models.FitCalibration(models.CalibrationPlatt, scores, correct)
	if err != nil {
		return ClassifierReport{}, err
	}
	acc, err := models.Accuracy(labels, pred)
	if err != nil {
		return ClassifierReport{}, err
	}
	f1, err := models.MacroF1(labels, pred)
	if err != nil {
		return ClassifierReport{}, err
	}
	params, err := json.Marshal(cal)
	if err != nil {
		return ClassifierReport{}, err
	}
	voteJSON, _ := json.Marshal(s.vote)
	causes := map[string]bool{}
	for _, l := range labels {
		causes[l] = true
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%d\n%d\n", model, voteJSON, params, len(all), all[len(all)-1].id)
	version := "knn-" + hex.EncodeToString(h.Sum(nil))[:12]
	rep := ClassifierReport{Model: model, Version: version, Method: cal.Method, Examples: len(all), Causes: len(causes),
		Folds: calibrationFolds, CVAccuracy: acc, CVMacroF1: f1}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO classifier_calibrations (model, version, method, params, examples, last_example, causes, cv_accuracy)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, model, version, cal.Method, params, len(all), all[len(all)-1].id, len(causes), acc)
	if err != nil {
		return ClassifierReport{}, err
	}
	s.mu.Lock()
	s.cls = classifier{model: model, version: version, cal: cal, trained: true}
	s.mu.Unlock()
	return rep, nil
}

// LoadClassifier puts in force the newest stored calibration of the
// embedder's model. It reports whether there was one.
func (s *Service) LoadClassifier(ctx context.Context) (_ bool, err error) {
	model := s.emb.Model()
	defer derrors.Wrap(&err, "LoadClassifier(%q)", model)
	var version string
	var params []byte
	err = s.pool.QueryRow(ctx, `SELECT version, params FROM classifier_calibrations WHERE model = $1 ORDER BY id DESC LIMIT 1`,
		model).Scan(&version, &params)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var cal models.Calibration
	if err := json.Unmarshal(params, &cal); err != nil {
		return false, err
	}
	if err := cal.Validate(); err != nil {
		return false, err
	}
	s.mu.Lock()
	s.cls = classifier{model: model, version: version, cal: cal, trained: true}
	s.mu.Unlock()
	return true, nil
}

// ClassifierVersion is the version of the calibration in force.
func (s *Service) ClassifierVersion() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cls.version
}
