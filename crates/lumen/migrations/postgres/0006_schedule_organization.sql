-- The organisation a report schedule was made in: each run is re-authorised
-- against it (issue 15), so an owner who moved to another organisation
-- stops receiving its reports. NULL on schedules made before.
ALTER TABLE report_schedules ADD COLUMN organization_id UUID;
