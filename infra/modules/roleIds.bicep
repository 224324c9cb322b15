// Built-in role definition ids the deployment grants (the same GUID in every tenant). Exported so every module
// names a role the same way; the GUIDs are Microsoft's, listed at
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
@export()
var builtInRoles = {
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultCryptoServiceEncryptionUser: 'e147488a-f6f5-4113-8e2d-b22465e65bf6'
  postgresFlexibleServerLtrBackup: 'c088a766-074b-43ba-90d4-1fb21feae531'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
}
