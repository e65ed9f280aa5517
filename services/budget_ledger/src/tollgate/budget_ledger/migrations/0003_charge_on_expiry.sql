-- Holds that are charged, not released, when they expire unsettled (Message Batches: their
-- answers are bought whether or not anyone reads them), and the entries the sweeper posts for
-- them, so a Commit arriving afterwards is recognised as already charged.
ALTER TABLE holds ADD COLUMN charge_on_expiry boolean NOT NULL DEFAULT false;
ALTER TABLE ledger_entries ADD COLUMN charged_on_expiry boolean NOT NULL DEFAULT false;
